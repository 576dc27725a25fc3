//! Bakes the suite's commit into the page (for provenance); `ACCELBENCH_COMMIT` overrides git.

fn main() {
    println!("cargo:rerun-if-env-changed=ACCELBENCH_COMMIT");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    let commit = std::env::var("ACCELBENCH_COMMIT").ok().filter(|c| !c.is_empty()).or_else(|| {
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git").args(args).output().ok()?;
            out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        };
        // Same form as the runner's provenance (runner/src/facts.rs), so the two match.
        let sha = git(&["rev-parse", "--short=12", "HEAD"])?;
        let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
        Some(if dirty { format!("{sha}-dirty") } else { sha })
    });
    println!("cargo:rustc-env=ACCELBENCH_COMMIT={}", commit.unwrap_or_else(|| "unknown".into()));
}
