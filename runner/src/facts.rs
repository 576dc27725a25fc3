//! What this machine and checkout are: commit, CPU model, OS and the current time, for the
//! provenance of every record the native side produces.

use std::process::Command;

use harness::env::HostFacts;

/// The suite's commit: `ACCELBENCH_COMMIT` if set (CI tarballs), else `git rev-parse HEAD` with
/// `-dirty` when the tree has changes, else `unknown`.
fn commit() -> String {
    if let Ok(c) = std::env::var("ACCELBENCH_COMMIT") {
        return c;
    }
    let dir = env!("CARGO_MANIFEST_DIR");
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(sha) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty { format!("{sha}-dirty") } else { sha }
        }
        None => "unknown".to_owned(),
    }
}

fn cpu_model() -> String {
    let from_proc = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|m| m.trim().to_owned())
    });
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{} ({threads} threads)", from_proc.unwrap_or_else(|| std::env::consts::ARCH.to_owned()))
}

fn os() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).map(|v| v.trim_matches('"').to_owned()));
    pretty.unwrap_or_else(|| std::env::consts::OS.to_owned())
}

/// Now as RFC 3339 UTC, to the second.
pub fn utc_now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

pub fn host_facts() -> HostFacts {
    HostFacts { commit: commit(), date: utc_now(), cpu: cpu_model(), os: os(), browser: None }
}

/// A new invocation's id: its start time and process id, unique on one machine and readable.
pub fn run_id() -> String {
    format!("{}-{}", utc_now().replace([':', '-'], ""), std::process::id())
}
