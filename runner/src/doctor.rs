//! `accelbench doctor`: what this machine can run (browsers and their drivers, each browser's
//! WebGPU adapter as the page sees it, native wgpu adapters, native backends, the page's build
//! tools) and, for each missing piece, the exact command that installs it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use comfy_table::{Cell, Table, presets::UTF8_FULL_CONDENSED};
use harness::schema::DoctorCheck as Check;

use crate::browser::page::PageSession;
use crate::browser::{Browser, command_version};
use crate::{Outcome, native, server};

#[derive(clap::Args, Debug)]
pub struct DoctorArgs {
    /// Skip opening each browser on the page to read its WebGPU adapter (takes ~5 s each)
    #[arg(long)]
    no_browser_probe: bool,
    /// The built page, for the browser probe
    #[arg(long, default_value = "dist")]
    dist: PathBuf,
    /// One JSON object per line instead of the table
    #[arg(long)]
    json: bool,
}

/// One line of the report.
fn check(what: impl Into<String>, found: Option<String>, missing: &str, fix: &str) -> Check {
    match found {
        Some(d) => Check { what: what.into(), ok: true, detail: d, fix: String::new() },
        None => Check { what: what.into(), ok: false, detail: missing.to_owned(), fix: fix.to_owned() },
    }
}

fn lock_version(name: &str) -> Option<String> {
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock")).ok()?;
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l == format!("name = \"{name}\"") {
            return lines.next()?.strip_prefix("version = \"")?.strip_suffix('"').map(str::to_owned);
        }
    }
    None
}

pub fn doctor(args: &DoctorArgs) -> anyhow::Result<Outcome> {
    let mut checks = Vec::new();

    for b in Browser::ALL {
        let version = b.version();
        checks.push(check(
            b.name(),
            version.map(|v| format!("{v} ({})", b.binary().unwrap_or(""))),
            "not installed",
            b.install_hint(),
        ));
        checks.push(check(b.driver(), command_version(b.driver()), "not on PATH", b.install_hint()));
    }

    // The page's toolchain.
    let wbg = lock_version("wasm-bindgen").unwrap_or_else(|| "?".into());
    let wasm_target = std::process::Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .ok()
        .filter(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l == "wasm32-unknown-unknown"))
        .map(|_| "installed".to_owned());
    checks.push(check(
        "rust target wasm32-unknown-unknown",
        wasm_target,
        "missing",
        "rustup target add wasm32-unknown-unknown",
    ));
    checks.push(check(
        "trunk 0.21.14",
        command_version("trunk").filter(|v| v.contains("0.21.14")),
        "missing or another version",
        "cargo install trunk --version =0.21.14 --locked --no-default-features",
    ));
    checks.push(check(
        format!("wasm-bindgen-cli {wbg} (= Cargo.lock)"),
        command_version("wasm-bindgen").filter(|v| v.contains(&wbg)),
        "missing or another version",
        &format!("cargo install wasm-bindgen-cli --version ={wbg}"),
    ));
    let wasm_opt = ["web/node_modules/.bin/wasm-opt", "wasm-opt"]
        .iter()
        .find_map(|p| command_version(p).filter(|v| v.contains("132")));
    checks.push(check("wasm-opt (binaryen 132)", wasm_opt, "missing", "(cd web && npm ci)"));
    let page = args.dist.join("index.html");
    checks.push(check(
        "built page",
        page.exists().then(|| page.display().to_string()),
        &format!("no {}", page.display()),
        "trunk build --release",
    ));

    // Native side: every wgpu adapter and every host backend, as the server's /backends says.
    for b in native::describe_backends() {
        let detail = if b.available {
            let fallback = if b.fallback == Some(true) { " (software adapter)" } else { "" };
            format!("{}{fallback}", b.device.unwrap_or_default())
        } else {
            b.reason.unwrap_or_default()
        };
        checks.push(Check { what: b.backend, ok: b.available, detail, fix: b.fix.unwrap_or_default() });
    }

    // Each browser's WebGPU, as the page itself sees it.
    if !args.no_browser_probe {
        for b in Browser::ALL {
            let what = format!("{} WebGPU", b.name());
            if b.binary().is_none() || command_version(b.driver()).is_none() || !page.exists() {
                checks.push(Check {
                    what,
                    ok: false,
                    detail: "not probed: needs the browser, its driver and the built page".into(),
                    fix: "see the lines above".into(),
                });
                continue;
            }
            let probed = probe_browser(b, &args.dist);
            if let Ok(env) = &probed {
                checks.push(match &env.webnn.context {
                    Some(device) => Check {
                        what: format!("{} WebNN", b.name()),
                        ok: true,
                        detail: format!("navigator.ml gives a `{device}` context"),
                        fix: String::new(),
                    },
                    None => Check {
                        what: format!("{} WebNN", b.name()),
                        ok: false,
                        detail: env.webnn.missing.clone().unwrap_or_default(),
                        fix: "its <browser>-webnn records (--page-backends auto,webnn) are skipped with this reason"
                            .into(),
                    },
                });
            }
            checks.push(match probed {
                Ok(env) => match (&env.webgpu, &env.webgpu_missing) {
                    (Some(a), _) => Check {
                        what,
                        ok: true,
                        detail: format!(
                            "{} (fallback: {}, timestamps: {}, shader-f16: {}; page ready in {:.0} ms)",
                            a.name,
                            a.fallback,
                            a.features.iter().any(|f| f == "timestamp-query"),
                            a.features.iter().any(|f| f == "shader-f16"),
                            env.ready_ms
                        ),
                        fix: String::new(),
                    },
                    (None, why) => Check {
                        what,
                        ok: false,
                        detail: why.clone().unwrap_or_default(),
                        fix: "its records will be <browser>-wasm (CPU)".into(),
                    },
                },
                Err(e) => Check { what, ok: false, detail: format!("{e:#}"), fix: String::new() },
            });
        }
    }

    if args.json {
        for c in &checks {
            println!("{}", serde_json::to_string(c)?);
        }
    } else {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(["", "component", "found", "to install / fix"]);
        for c in &checks {
            t.add_row(vec![
                Cell::new(if c.ok { "ok" } else { "--" }),
                Cell::new(&c.what),
                Cell::new(&c.detail),
                Cell::new(&c.fix),
            ]);
        }
        println!("{t}");
        if cfg!(target_os = "macos") {
            println!(
                "On this Mac the GPU path is the wgpu Metal adapter (native-wgpu-metal); MPS kernels are not implemented."
            );
        }
    }
    Ok(Outcome::Ok)
}

/// Opens the page in `b` (in-process server with a throwaway database) and reads its environment.
fn probe_browser(b: Browser, dist: &Path) -> anyhow::Result<harness::schema::PageEnvironment> {
    let rt = tokio::runtime::Runtime::new()?;
    let tmp = tempfile::tempdir()?;
    let db = tmp.path().join("doctor.db").display().to_string();
    rt.block_on(async {
        let srv = server::InProcess::start(&db, dist.to_path_buf(), PathBuf::from("static")).await?;
        let result = async {
            let session = PageSession::open(b, None, Duration::from_secs(60)).await?;
            let env = session.load(&format!("{}/", srv.url), Duration::from_secs(60)).await;
            session.close().await;
            env
        }
        .await;
        srv.stop().await?;
        result
    })
}
