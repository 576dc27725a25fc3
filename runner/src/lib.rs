//! The `accelbench` binary's library: subcommands, native backends, browsers, the server and
//! the store, public so that integration tests drive the same code as users (the page through
//! WebDriver, the server in-process).

pub mod backends;
pub mod browser;
pub mod cache;
pub mod doctor;
pub mod facts;
pub mod history;
pub mod icd;
pub mod model;
pub mod models;
pub mod native;
pub mod predict;
pub mod recommend;
pub mod report;
pub mod results;
pub mod run;
pub mod server;
pub mod suite;

/// Outcome of a subcommand that ran to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// A wrong answer or a regression: exit 1.
    Failed,
}
