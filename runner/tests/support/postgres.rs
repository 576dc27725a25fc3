//! A throwaway PostgreSQL server for the tests: `initdb` in a temporary directory, started with
//! `pg_ctl` on a free loopback port, one database per test, stopped (and its directory removed)
//! by a watchdog when the test process exits, however it exits.
//!
//! Debian's `postgresql` package (installed by `.ci/setup`) provides the binaries; elsewhere
//! set `ACCELBENCH_PG_BINDIR`. `initdb` refuses to run as root, so as root the server runs as
//! the `postgres` user. With `ACCELBENCH_REQUIRE_POSTGRES=1` (as `./x test` sets) a missing
//! PostgreSQL fails the tests instead of skipping them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

struct Cluster {
    port: u16,
    bin: PathBuf,
    /// `runuser -u postgres --` when the tests run as root, else nothing.
    as_owner: Vec<String>,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

fn bindir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("ACCELBENCH_PG_BINDIR") {
        return Some(PathBuf::from(d));
    }
    // Debian: /usr/lib/postgresql/<major>/bin; the newest major wins.
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|b| b.join("initdb").exists())
        .collect();
    found.sort_by_key(|b| b.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()).unwrap_or(0));
    found.pop()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn run(as_owner: &[String], bin: &Path, tool: &str, args: &[&str]) -> Result<(), String> {
    let mut cmd = if as_owner.is_empty() {
        Command::new(bin.join(tool))
    } else {
        let mut c = Command::new(&as_owner[0]);
        c.args(&as_owner[1..]).arg(bin.join(tool));
        c
    };
    let out = cmd.args(args).stdin(Stdio::null()).output().map_err(|e| format!("{tool}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn start() -> Result<Cluster, String> {
    let bin =
        bindir().ok_or("no PostgreSQL: install Debian's `postgresql` (.ci/setup does) or set ACCELBENCH_PG_BINDIR")?;
    let as_owner: Vec<String> =
        if is_root() { ["runuser", "-u", "postgres", "--"].map(String::from).to_vec() } else { Vec::new() };
    let dir = std::env::temp_dir().join(format!("accelbench-pg-{}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !as_owner.is_empty() {
        let ok = Command::new("chown").args(["postgres:", &dir.display().to_string()]).status();
        if !ok.is_ok_and(|s| s.success()) {
            return Err(format!("cannot give {} to the postgres user", dir.display()));
        }
    }
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let (data_s, dir_s) = (data.display().to_string(), dir.display().to_string());
    run(&as_owner, &bin, "initdb", &["-D", &data_s, "-U", "accelbench", "--auth=trust", "-E", "UTF8", "--no-sync"])?;
    // The watchdog stops the server when this process is gone: a test binary exits without
    // running destructors of statics, and a killed one runs nothing at all.
    let owner = as_owner.join(" ");
    let stop = format!("{owner} {}/pg_ctl -D {data_s} stop -m immediate", bin.display());
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir_s}",
        pid = std::process::id()
    );
    let opts = format!("-p {port} -k {dir_s} -c listen_addresses=127.0.0.1 -c max_connections=200");
    run(&as_owner, &bin, "pg_ctl", &["-D", &data_s, "-l", &format!("{dir_s}/log"), "-w", "-o", &opts, "start"])?;
    Command::new("sh")
        .args(["-c", &watchdog])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the watchdog: {e}"))?;
    Ok(Cluster { port, bin, as_owner })
}

/// A URL to a new, empty database `name` on the tests' PostgreSQL server, or None (after saying
/// why) when there is no PostgreSQL here and `ACCELBENCH_REQUIRE_POSTGRES` is not set.
pub fn database(name: &str) -> Option<String> {
    match CLUSTER.get_or_init(start) {
        Ok(c) => {
            let port = c.port.to_string();
            run(&c.as_owner, &c.bin, "createdb", &["-h", "127.0.0.1", "-p", &port, "-U", "accelbench", name])
                .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
            Some(format!("postgres://accelbench@127.0.0.1:{port}/{name}"))
        }
        Err(why) if std::env::var("ACCELBENCH_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => {
            panic!("ACCELBENCH_REQUIRE_POSTGRES=1 but PostgreSQL cannot start: {why}")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}
