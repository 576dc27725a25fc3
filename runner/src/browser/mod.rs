//! Headless browsers with WebGPU on this kind of machine: which binaries, drivers, flags and
//! prefs give Chromium and Firefox a WebGPU adapter (see ARCHITECTURE.md, "Browsers here"), and
//! the capabilities a WebDriver session is opened with.

pub mod driver;
pub mod endpoints;
pub mod page;

use std::path::Path;

use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Browser {
    Chrome,
    Firefox,
}

/// Chromium's flags: `--enable-unsafe-webgpu` is what gives an adapter without a GPU (SwiftShader);
/// `--enable-webgpu-developer-features` turns off the 100 us quantisation of timestamp queries
/// (the page detects quantisation from the samples anyway); the rest keep a headless root session
/// quiet and deterministic.
const CHROME_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--enable-unsafe-webgpu",
    "--enable-webgpu-developer-features",
    // WebNN (`navigator.ml`); the page records whether a context can be created.
    "--enable-features=WebMachineLearningNeuralNetwork",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// Firefox's prefs: both are needed; with only the first the adapter is refused as blocklisted.
const FIREFOX_PREFS: &[(&str, bool)] = &[("dom.webgpu.enabled", true), ("gfx.webgpu.ignore-blocklist", true)];

impl Browser {
    pub const ALL: [Browser; 2] = [Browser::Chrome, Browser::Firefox];

    pub fn parse(s: &str) -> Option<Browser> {
        match s.to_ascii_lowercase().as_str() {
            "chrome" | "chromium" => Some(Browser::Chrome),
            "firefox" | "firefox-esr" => Some(Browser::Firefox),
            _ => None,
        }
    }

    /// The name the page uses in its backend labels (`chrome-webgpu`).
    pub fn name(self) -> &'static str {
        match self {
            Browser::Chrome => "chrome",
            Browser::Firefox => "firefox",
        }
    }

    pub fn driver(self) -> &'static str {
        match self {
            Browser::Chrome => "chromedriver",
            Browser::Firefox => "geckodriver",
        }
    }

    /// The exact command that installs what is missing (Debian).
    pub fn install_hint(self) -> &'static str {
        match self {
            Browser::Chrome => "apt-get install chromium chromium-driver",
            Browser::Firefox => "apt-get install firefox-esr && cargo install geckodriver --version =0.37.1 --locked",
        }
    }

    /// The browser binary, where a known one exists. Debian's `/usr/bin/chromium` is a wrapper
    /// whose /dev/shm check breaks headless runs, so the real binary is preferred.
    pub fn binary(self) -> Option<&'static str> {
        let candidates: &[&str] = match self {
            Browser::Chrome => &[
                "/usr/lib/chromium/chromium",
                "/usr/bin/chromium",
                "/usr/bin/google-chrome",
                "/opt/google/chrome/chrome",
            ],
            Browser::Firefox => &["/usr/bin/firefox-esr", "/usr/bin/firefox", "/usr/lib/firefox-esr/firefox-esr"],
        };
        candidates.iter().copied().find(|p| Path::new(p).exists())
    }

    /// Arguments for the driver: a free loopback port, and for geckodriver a profile root in the
    /// driver's scratch directory.
    pub fn driver_args(self, scratch: &Path) -> Vec<String> {
        match self {
            Browser::Chrome => vec!["--port=0".into()],
            Browser::Firefox => vec![
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                "0".into(),
                "--profile-root".into(),
                scratch.display().to_string(),
            ],
        }
    }

    /// The flags and prefs recorded in each record's provenance.
    pub fn flags(self) -> Vec<String> {
        match self {
            Browser::Chrome => CHROME_FLAGS.iter().map(|s| (*s).to_owned()).collect(),
            Browser::Firefox => {
                let mut v = vec!["-headless".to_owned()];
                v.extend(FIREFOX_PREFS.iter().map(|(k, val)| format!("pref {k}={val}")));
                v
            }
        }
    }

    /// WebDriver capabilities: headless, a fresh profile under `profile_dir`, WebGPU on.
    pub fn capabilities(self, profile_dir: &Path) -> serde_json::Map<String, Value> {
        let caps = match self {
            Browser::Chrome => {
                let mut args: Vec<String> = CHROME_FLAGS.iter().map(|s| (*s).to_owned()).collect();
                args.push(format!("--user-data-dir={}", profile_dir.display()));
                let mut opts = json!({ "args": args });
                if let Some(bin) = self.binary() {
                    opts["binary"] = json!(bin);
                }
                json!({ "browserName": "chrome", "goog:chromeOptions": opts })
            }
            Browser::Firefox => {
                let prefs: serde_json::Map<String, Value> =
                    FIREFOX_PREFS.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
                let mut opts = json!({ "args": ["-headless"], "prefs": prefs });
                if let Some(bin) = self.binary() {
                    opts["binary"] = json!(bin);
                }
                json!({ "browserName": "firefox", "moz:firefoxOptions": opts })
            }
        };
        match caps {
            Value::Object(m) => m,
            _ => unreachable!("capabilities are an object"),
        }
    }

    /// `<binary> --version`, e.g. "Chromium 156.0.7500.1 built on Debian".
    pub fn version(self) -> Option<String> {
        command_version(self.binary()?)
    }
}

/// First line of `program --version`, when it runs.
pub fn command_version(program: &str) -> Option<String> {
    let out = std::process::Command::new(program).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(if out.stdout.is_empty() { &out.stderr } else { &out.stdout }).into_owned();
    out.status.success().then(|| text.lines().next().unwrap_or("").trim().to_owned())
}
