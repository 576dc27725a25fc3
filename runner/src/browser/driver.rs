//! WebDriver servers (chromedriver, geckodriver) as child processes: each in its own process
//! group on a free loopback port read from its log, its output drained (an undrained pipe stalls
//! it) into a tail kept for error messages, and the whole group (driver and browser) killed on drop.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use anyhow::{Context as _, bail};

/// A running WebDriver server.
pub struct Driver {
    child: Child,
    program: String,
    pub url: String,
    log: Arc<Mutex<VecDeque<String>>>,
    tmp: tempfile::TempDir,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").field("url", &self.url).field("pid", &self.child.id()).finish()
    }
}

/// Where a driver logs its port: chromedriver "...started successfully on port 41233.",
/// geckodriver "Listening on 127.0.0.1:41233".
pub fn parse_port(line: &str) -> Option<u16> {
    let rest = line.split("on port ").nth(1).or_else(|| line.split("Listening on ").nth(1))?;
    let digits: String = rest.rsplit(':').next()?.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|&p| p > 0)
}

impl Driver {
    /// Starts `program` (e.g. `chromedriver`) with `args` plus a port-0 argument and waits until
    /// it says which port it listens on.
    /// `args` gets a fresh scratch directory (profiles go there; removed on drop).
    pub fn spawn(program: &str, args: impl FnOnce(&Path) -> Vec<String>, install_hint: &str) -> anyhow::Result<Driver> {
        let tmp = tempfile::Builder::new().prefix("accelbench-driver").tempdir()?;
        let mut cmd = Command::new(program);
        cmd.args(args(tmp.path()))
            .env("TMPDIR", tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group: on drop we signal the group, so the browser dies with its driver.
            .process_group(0);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!("`{program}` is not on PATH; install it: {install_hint}")
            }
            Err(e) => return Err(e).with_context(|| format!("starting {program}")),
        };
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = mpsc::channel();
        for stream in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as _),
        ]
        .into_iter()
        .flatten()
        {
            let (log, tx) = (log.clone(), tx.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(port) = parse_port(&line) {
                        let _ = tx.send(port);
                    }
                    tracing::debug!(target: "accelbench::driver", "{line}");
                    let mut l = log.lock().unwrap();
                    if l.len() >= 200 {
                        l.pop_front();
                    }
                    l.push_back(line);
                }
            });
        }
        drop(tx);
        let port = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(p) => p,
            Err(_) => {
                let status = child.try_wait().ok().flatten();
                let tail = log.lock().unwrap().iter().cloned().collect::<Vec<_>>().join("\n");
                let mut d = Driver { child, program: program.to_owned(), url: String::new(), log, tmp };
                d.kill();
                bail!(
                    "{program} did not report a port within 30 s (exit status {status:?}); its output:\n{tail}\n\
                     check that it runs: `{program} --version`"
                );
            }
        };
        Ok(Driver { child, program: program.to_owned(), url: format!("http://127.0.0.1:{port}"), log, tmp })
    }

    pub fn scratch(&self) -> &Path {
        self.tmp.path()
    }

    /// The driver's last log lines, for error messages.
    pub fn log_tail(&self, n: usize) -> String {
        let l = self.log.lock().unwrap();
        l.iter().skip(l.len().saturating_sub(n)).cloned().collect::<Vec<_>>().join("\n")
    }

    /// After a failed command: whether the driver or its browser is gone, and how. None while
    /// both live (the failure was the page's or a hang). A browser that died (a crash, the OOM
    /// killer, a signal) left its exit status to the driver, which only reports a lost session.
    pub fn what_died(&mut self) -> Option<String> {
        use std::os::unix::process::ExitStatusExt as _;
        if let Ok(Some(status)) = self.child.try_wait() {
            let how = match (status.code(), status.signal()) {
                (_, Some(sig)) => format!("killed by signal {sig}{}", signal_name(sig)),
                (Some(code), None) => format!("exit code {code}"),
                (None, None) => format!("{status}"),
            };
            return Some(format!("the WebDriver server {} is gone ({how})", self.program));
        }
        // The browser's main process is the driver's child; its helpers may outlive it by a
        // moment, so they are not asked.
        let alive = children(self.child.id()).len();
        (alive == 0).then(|| "the browser process is gone (crashed or killed)".to_owned())
    }

    /// Kills the driver's process group (driver, browser and its helpers) and reaps the driver.
    pub fn kill(&mut self) {
        let pgid = self.child.id();
        for sig in ["-TERM", "-KILL"] {
            let _ = Command::new("kill").args([sig, "--", &format!("-{pgid}")]).stderr(Stdio::null()).status();
            if sig == "-TERM" {
                for _ in 0..20 {
                    if matches!(self.child.try_wait(), Ok(Some(_))) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        let _ = self.child.wait();
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        6 => " (SIGABRT)",
        9 => " (SIGKILL: the OOM killer, or someone)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        _ => "",
    }
}

/// The live (not zombie) children of `pid`, from /proc (Linux).
fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| {
        let child: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let mut rest = stat.rsplit_once(')')?.1.split_whitespace();
        let state = rest.next()?;
        let ppid: u32 = rest.next()?.parse().ok()?;
        (ppid == pid && state != "Z").then_some(child)
    })
    .collect()
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::parse_port;

    #[test]
    fn ports_from_driver_logs() {
        assert_eq!(parse_port("ChromeDriver was started successfully on port 41233."), Some(41233));
        assert_eq!(parse_port("1700000000000\tgeckodriver\tINFO\tListening on 127.0.0.1:38871"), Some(38871));
        assert_eq!(parse_port("Starting ChromeDriver 156.0 on port 0"), None);
        assert_eq!(parse_port("nothing here"), None);
    }
}
