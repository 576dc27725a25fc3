//! The environment part of provenance: what the caller knows (commit, browser) plus what can be
//! read here (OS, architecture, CPU model).

use crate::schema::{BrowserInfo, Provenance};

/// Facts the caller supplies; the library cannot discover them portably (no clock or git on
/// wasm32, no browser natively).
#[derive(Clone, Debug)]
pub struct HostFacts {
    pub commit: String,
    pub date: String,
    pub cpu: String,
    pub os: String,
    pub browser: Option<BrowserInfo>,
}

impl HostFacts {
    pub fn provenance(&self, seed: u64) -> Provenance {
        Provenance {
            accelbench_version: env!("CARGO_PKG_VERSION").to_owned(),
            commit: self.commit.clone(),
            os: self.os.clone(),
            arch: std::env::consts::ARCH.to_owned(),
            cpu: self.cpu.clone(),
            date: self.date.clone(),
            seed,
            browser: self.browser.clone(),
            run_id: None,
            round: None,
        }
    }
}
