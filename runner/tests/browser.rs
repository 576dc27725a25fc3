//! The page in real headless browsers, driven by `accelbench run` through WebDriver: the quick
//! catalogue in Chromium (SwiftShader) and Firefox ESR (wgpu on lavapipe), the WASM CPU path, and
//! a hung page costing one `failed` case while the suite goes on, a browser or driver killed
//! from outside, several WebDriver endpoints sharing one suite, and the WebNN records.
//!
//! Needs the built page (`trunk build --release`) and the browsers with their drivers; without
//! them the tests say so and pass, unless ACCELBENCH_REQUIRE_BROWSERS=1 (set by `./x test`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use harness::schema::{Record, Status};

/// One browser at a time: two would share 2 cores and the tests would crawl.
static BROWSERS: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Whether the browser tests can run here; panics when they must but cannot.
fn ready(driver: &str) -> bool {
    let dist = root().join("dist/index.html");
    let has_driver = Command::new(driver).arg("--version").output().is_ok_and(|o| o.status.success());
    let missing = match (dist.exists(), has_driver) {
        (true, true) => return true,
        (false, _) => format!("{} (run `trunk build --release`)", dist.display()),
        (true, false) => format!("{driver} (see `accelbench doctor`)"),
    };
    if std::env::var("ACCELBENCH_REQUIRE_BROWSERS").is_ok_and(|v| v == "1") {
        panic!("browser tests required but {missing} is missing");
    }
    eprintln!("skipping: {missing} is missing");
    false
}

fn run(args: &[&str]) -> (Output, Vec<Record>) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run.jsonl");
    let db = tmp.path().join("run.db");
    let output = Command::new(env!("CARGO_BIN_EXE_accelbench"))
        .arg("run")
        .args(args)
        .args(["--out", out.to_str().unwrap(), "--db", db.to_str().unwrap()])
        .current_dir(root())
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("accelbench runs");
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let records = harness::schema::parse_jsonl(&text).expect("--out holds schema v1 records");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("stored as run"), "the run was not stored: {err}");
    (output, records)
}

fn quick_cases() -> Vec<(&'static str, &'static str)> {
    harness::catalogue::KERNELS.iter().flat_map(|k| k.quick.iter().map(move |p| (k.id, p.case))).collect()
}

/// Every quick case has exactly one record on `backend`, measured or skipped with a reason.
fn assert_whole_catalogue(records: &[Record], backend: &str) {
    for (kernel, case) in quick_cases() {
        let found: Vec<&Record> =
            records.iter().filter(|r| r.kernel == kernel && r.case == case && r.backend == backend).collect();
        assert_eq!(found.len(), 1, "{kernel} {case} on {backend}: {} records", found.len());
        let r = found[0];
        match &r.status {
            Status::Measured => {
                let t = r.timing.as_ref().expect("measured records carry timing");
                assert!(t.summary.median_ns > 0.0 && t.summary.n >= 2);
                assert!(r.check.as_ref().is_some_and(|c| c.passed) || backend.ends_with("-wasm"));
                // The peaks ran first in the browser too: every WebGPU record is a share of them.
                if backend.ends_with("-webgpu") {
                    assert!(r.peak.as_ref().is_some_and(|p| p.fraction > 0.0), "{kernel} {case}: no share of peak");
                    // Every WebGPU record names the variant that ran and how it was chosen; a
                    // kernel with variants had them all timed in the browser.
                    let k = harness::catalogue::KERNELS.iter().find(|k| kernel == k.id).unwrap();
                    let how = r.autotune.as_ref().map(|a| a.how);
                    assert!(r.variant.is_some(), "{kernel} {case}: no variant");
                    if k.variants.is_empty() {
                        assert_eq!(how, Some(harness::schema::AutotuneHow::Only), "{kernel} {case}");
                    } else if how == Some(harness::schema::AutotuneHow::Tuned) {
                        let n = r.autotune.as_ref().unwrap().candidates.len();
                        assert!(n >= 2, "{kernel} {case}: {n} candidates timed");
                    }
                }
            }
            Status::Skipped { reason } => assert!(!reason.is_empty()),
            other => panic!("{kernel} {case} on {backend}: {other:?}"),
        }
        let b = r.provenance.browser.as_ref().expect("browser provenance");
        assert!(!b.version.is_empty() && !b.user_agent.is_empty() && !b.flags.is_empty());
        assert!(b.cross_origin_isolated, "the companion server isolates the page");
        assert!(!r.provenance.commit.is_empty() && r.provenance.commit != "unknown");
    }
}

/// Every model preset has exactly one record per precision (f32, f16, q8, q4: a quick run's
/// default) on `backend` (after the kernels), checked against the f64 reference, with the model
/// metrics a user reads and, below f32, the error against the f32 weights. fp16 may be skipped
/// only naming `shader-f16` (an adapter without it) or, for an audio encoder, its f32 log-mel.
fn assert_every_model(records: &[Record], backend: &str) {
    for (p, dtype) in harness::model::PRESETS.iter().flat_map(|p| ["f32", "f16", "q8", "q4"].map(|d| (p, d))) {
        let found: Vec<&Record> = records
            .iter()
            .filter(|r| r.kernel == p.id && r.backend == backend && r.dtype == dtype)
            .filter(|r| r.mode == harness::schema::Mode::Inference)
            .collect();
        assert_eq!(found.len(), 1, "{} {dtype} on {backend}: {} records", p.id, found.len());
        let r = found[0];
        if dtype != "f32" && r.status == Status::Measured {
            assert!(r.check.as_ref().is_some_and(|c| c.vs_f32.is_some()), "{} {dtype}: no error vs f32", p.id);
        }
        assert_eq!(r.family, "model");
        match &r.status {
            Status::Measured => {
                let c = r.check.as_ref().expect("checked before timed");
                assert!(c.passed, "{}: {c:?}", p.id);
                let m = r.model.as_ref().expect("model metrics");
                assert_eq!(m.scale, "quick");
                assert!(m.checked_against.contains("f64 reference"), "{}", m.checked_against);
                assert!(m.device_bytes.total > 0 && m.device_bytes.weights > 0);
                if m.generated_tokens > 0 {
                    assert!(m.ttft_ns.is_some_and(|t| t > 0.0), "{}: {m:?}", p.id);
                    assert!(m.decode_tokens_per_s.is_some_and(|d| d > 0.0), "{}: {m:?}", p.id);
                    assert!(m.token_latency_ns.is_some() && m.host_token_latency_ns.is_some(), "{}", p.id);
                    assert!(m.greedy_tokens_matched.is_some());
                } else {
                    assert!(m.encoder_latency_ns.is_some_and(|t| t > 0.0), "{}: {m:?}", p.id);
                }
            }
            Status::Skipped { reason }
                if dtype == "f16"
                    && (reason.contains("shader-f16")
                        || ((p.config)().family == harness::schema::ModelFamily::AudioEncoder
                            && reason.contains("log-mel"))) => {}
            other => panic!("{} {dtype} on {backend}: {other:?}", p.id),
        }
    }
    assert_every_training(records, backend);
}

/// Every preset has one training record on `backend`: a decoder's measured, its loss falling
/// and checked against the reference's; an encoder's skipped saying it is not a decoder.
fn assert_every_training(records: &[Record], backend: &str) {
    for p in harness::model::PRESETS {
        let found: Vec<&Record> = records
            .iter()
            .filter(|r| r.kernel == p.id && r.backend == backend && r.mode == harness::schema::Mode::Training)
            .collect();
        assert_eq!(found.len(), 1, "{} training on {backend}: {} records", p.id, found.len());
        let r = found[0];
        if (p.config)().family == harness::schema::ModelFamily::Decoder {
            assert_eq!(r.status, Status::Measured, "{} training on {backend}", p.id);
            let t = r.training.as_ref().expect("training figures");
            assert!(t.losses.len() == 20 && t.losses[19] < 0.8 * t.losses[0], "{}: {:?}", p.id, t.losses);
            assert!(t.max_loss_rel_err < 5e-2 && t.steps_per_s > 0.0, "{}: {t:?}", p.id);
        } else {
            assert!(r.status.reason().is_some_and(|why| why.contains("not a decoder")), "{}: {:?}", p.id, r.status);
        }
    }
}

#[test]
fn chromium_runs_the_quick_catalogue_on_swiftshader() {
    if !ready("chromedriver") {
        return;
    }
    let _g = BROWSERS.lock().unwrap_or_else(|e| e.into_inner());
    // A short sampling budget: this checks coverage, checks and provenance, not precision.
    let (out, records) = run(&["--quick", "--browsers", "chrome", "--budget", "0.15"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_whole_catalogue(&records, "chrome-webgpu");
    assert_every_model(&records, "chrome-webgpu");
    for r in &records {
        if r.adapter.is_none() {
            // Only a model that cannot be built has no adapter: nothing reached the device.
            assert!(r.family == "model" && matches!(r.status, Status::Skipped { .. }), "{r:?}");
            continue;
        }
        let a = r.adapter.as_ref().expect("WebGPU records name their adapter");
        assert!(a.name.to_lowercase().contains("swiftshader") || a.driver.contains("swiftshader"), "{a:?}");
        assert_eq!(a.is_fallback_adapter, Some(true), "SwiftShader is a fallback adapter");
        assert!(a.fallback);
        // Training steps are timed on the host until their loss is back (checked in
        // assert_every_training); everything else by timestamps.
        if let Some(t) = r.timing.as_ref().filter(|_| r.training.is_none()) {
            assert_eq!(t.timer.kind, harness::schema::TimerKind::GpuTimestamp);
            // With --enable-webgpu-developer-features Chrome's timestamps are not quantised, and
            // the record says so from the samples' own granularity.
            assert!(!t.timer.quantized && t.timer.resolution_ns < 1000.0, "{:?}", t.timer);
        }
        let flags = &r.provenance.browser.as_ref().unwrap().flags;
        assert!(flags.iter().any(|f| f == "--enable-webgpu-developer-features"), "{flags:?}");
    }
    // SwiftShader has no shader-f16: the f16 matmul is skipped, naming the feature.
    let f16 = records.iter().find(|r| r.kernel == "matmul-f16").unwrap();
    assert!(f16.status.reason().is_some_and(|s| s.contains("shader-f16")), "{:?}", f16.status);
    // The report names every backend and status.
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("chrome-webgpu") && table.contains("skipped"), "{table}");
    // The report has the models' own table.
    assert!(table.contains("Models") && table.contains("decode tok/s") && table.contains("gpt2-small"), "{table}");
}

#[test]
fn firefox_runs_the_quick_catalogue_on_webgpu_or_says_it_is_wasm() {
    if !ready("geckodriver") {
        return;
    }
    let _g = BROWSERS.lock().unwrap_or_else(|e| e.into_inner());
    let (out, records) = run(&["--quick", "--browsers", "firefox", "--budget", "0.15"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let backend = records.first().map(|r| r.backend.clone()).expect("records");
    assert!(backend == "firefox-webgpu" || backend == "firefox-wasm", "{backend}");
    assert_whole_catalogue(&records, &backend);
    assert_every_model(&records, &backend);
    // lavapipe has shader-f16 (and the WASM path rounds on the host): fp16 models run.
    let is_f16_gpt2 = |r: &&Record| r.kernel == "gpt2-small" && r.dtype == "f16" && r.backend == backend;
    let f16_gpt2 = records.iter().find(|r| is_f16_gpt2(r) && r.mode == harness::schema::Mode::Inference).unwrap();
    assert_eq!(f16_gpt2.status, Status::Measured, "fp16 gpt2-small on {backend}");
    if backend == "firefox-webgpu" {
        // Firefox's WebGPU is wgpu on lavapipe here: a fallback adapter with shader-f16.
        let a = records[0].adapter.as_ref().unwrap();
        assert_eq!(a.is_fallback_adapter, Some(true));
        let f16 = records.iter().find(|r| r.kernel == "matmul-f16").unwrap();
        assert_eq!(f16.status, Status::Measured, "lavapipe has shader-f16");
    }
}

#[test]
fn the_wasm_cpu_path_is_labelled_and_host_timed() {
    if !ready("chromedriver") {
        return;
    }
    let _g = BROWSERS.lock().unwrap_or_else(|e| e.into_inner());
    let (out, records) = run(&[
        "--quick",
        "--browsers",
        "chrome",
        "--page-backends",
        "wasm",
        "--kernels",
        "gelu-tanh,layernorm",
        "--dtypes",
        "f32",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(records.len(), 3);
    for r in &records {
        assert_eq!(r.backend, "chrome-wasm");
        assert_eq!(r.status, Status::Measured);
        assert!(r.adapter.is_none(), "CPU records name no GPU adapter");
        let t = r.timing.as_ref().unwrap();
        assert_eq!(t.timer.kind, harness::schema::TimerKind::HostClock);
        // Cross-origin isolated: performance.now() is far finer than the 100 us of a plain page.
        assert!(t.timer.resolution_ns < 100_000.0, "{}", t.timer.resolution_ns);
    }
}

#[test]
fn a_hung_page_costs_one_failed_case_and_the_suite_goes_on() {
    if !ready("chromedriver") {
        return;
    }
    let _g = BROWSERS.lock().unwrap_or_else(|e| e.into_inner());
    let (out, records) = run(&[
        "--quick",
        "--browsers",
        "chrome",
        "--kernels",
        "gelu-tanh,softmax,rmsnorm",
        "--kernel-timeout",
        "10s",
        "--inject-fault",
        "hang:softmax",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let by = |k: &str| records.iter().filter(|r| r.kernel == k).collect::<Vec<_>>();
    assert!(by("gelu-tanh").iter().all(|r| r.status == Status::Measured));
    let softmax = by("softmax");
    assert_eq!(softmax.len(), 2, "one record per softmax case");
    let failed = softmax.iter().filter(|r| matches!(r.status, Status::Failed { .. })).count();
    assert_eq!(failed, 1, "the hung case fails: {softmax:?}");
    let reason =
        softmax.iter().find_map(|r| r.status.reason().filter(|_| matches!(r.status, Status::Failed { .. }))).unwrap();
    assert!(reason.contains("did not answer") || reason.contains("no progress"), "{reason}");
    // After the restart the rest ran: the other softmax case and rmsnorm.
    assert_eq!(softmax.iter().filter(|r| r.status == Status::Measured).count(), 1);
    assert!(!by("rmsnorm").is_empty() && by("rmsnorm").iter().all(|r| r.status == Status::Measured));
}

#[test]
fn a_missing_page_is_an_error_that_names_the_build_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_accelbench"))
        .args(["run", "--quick", "--browsers", "chrome", "--dist", "/nonexistent/dist"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("trunk build --release"));
}

#[test]
fn user_cases_and_sweeps_run_in_both_browsers_with_their_parameters() {
    if !ready("chromedriver") || !ready("geckodriver") {
        return;
    }
    let _g = BROWSERS.lock().unwrap_or_else(|e| e.into_inner());
    let (out, records) = run(&[
        "--quick",
        "--browsers",
        "chrome,firefox",
        "--case",
        "matmul-f32:m=96,n=80,k=64",
        "--sweep",
        "softmax:cols=256,512",
        "--budget",
        "0.2",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    for browser in ["chrome", "firefox"] {
        let mine: Vec<&Record> = records.iter().filter(|r| r.backend.starts_with(browser)).collect();
        let cases: Vec<(&str, &str)> = mine.iter().map(|r| (r.kernel.as_str(), r.case.as_str())).collect();
        assert_eq!(
            cases,
            [("matmul-f32", "m=96,n=80,k=64"), ("softmax", "cols=256"), ("softmax", "cols=512")],
            "{browser}"
        );
        let m = mine[0];
        assert_eq!(m.status, Status::Measured, "{browser}: {:?}", m.status);
        let want: std::collections::BTreeMap<String, u64> =
            [("m", 96), ("n", 80), ("k", 64), ("batch", 1)].iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        assert_eq!(m.params, want);
        assert_eq!(mine[2].params["cols"], 512);
        assert_eq!(mine[2].params["rows"], 64, "unset keys come from the first quick set");
    }
}

/// The processes descended from `root` as (pid, parent, command name), from /proc.
fn descendants(root: u32) -> Vec<(u32, u32, String)> {
    let all: Vec<(u32, u32, String)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (head, rest) = stat.rsplit_once(')')?;
            let comm = head.split_once('(')?.1.to_owned();
            let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid, comm))
        })
        .collect();
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for c in all.iter().filter(|c| c.1 == p) {
            frontier.push(c.0);
            out.push(c.clone());
        }
    }
    out
}

/// Real faults from outside: while the page is held on gelu-tanh (an injected stall, so the kill
/// cannot miss a case that takes milliseconds; the page still answers polls), after softmax's
/// two records are in the run's file, the browser process (then, in a second run, its WebDriver server) is SIGKILLed. The
/// run completes with exit 0, keeps every record collected, fails gelu-tanh naming the dead
/// process (not the stall), restarts the browser and measures the rest, each case exactly once.
#[test]
fn a_killed_browser_or_driver_costs_the_case_in_progress_and_the_suite_goes_on() {
    if !ready("chromedriver") {
        return;
    }
    let _g = BROWSERS.lock().unwrap_or_else(|e| e.into_inner());
    const KERNELS: [&str; 3] = ["gelu-tanh", "softmax", "rmsnorm"];
    let cases: usize = KERNELS.iter().map(|k| harness::cases::kernel_by_id(k).unwrap().quick.len()).sum();
    for (target, named) in [
        ("chromium", "the browser process is gone"),
        ("chromedriver", "the WebDriver server chromedriver is gone (killed by signal 9"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("run.jsonl");
        let child = Command::new(env!("CARGO_BIN_EXE_accelbench"))
            .args(["run", "--quick", "--browsers", "chrome", "--kernels", &KERNELS.join(",")])
            .args(["--inject-fault", "stall:gelu-tanh", "--kernel-timeout", "90s", "--out"])
            .arg(&out)
            .arg("--db")
            .arg(tmp.path().join("run.db"))
            .current_dir(root())
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A liveness deadline, not a timing.
        let mut killed = None;
        for _ in 0..1200 {
            if std::fs::read_to_string(&out).is_ok_and(|t| t.lines().count() >= 2) {
                let procs = descendants(child.id());
                let driver = procs.iter().find(|p| p.2 == "chromedriver").map(|p| p.0);
                // The browser's main process: the driver's child.
                let victim = procs.iter().find(|p| p.2 == target && (target == "chromedriver" || Some(p.1) == driver));
                if let Some(v) = victim {
                    Command::new("kill").args(["-KILL", &v.0.to_string()]).status().unwrap();
                    killed = Some(v.0);
                    break;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(killed.is_some(), "no {target} process to kill under the run");
        let output = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{err}");
        assert!(err.contains("restarting the browser"), "{err}");
        let records = harness::schema::parse_jsonl(&std::fs::read_to_string(&out).unwrap()).unwrap();
        let mut keys: Vec<_> = records.iter().map(|r| (r.kernel.clone(), r.case.clone())).collect();
        keys.sort();
        keys.dedup();
        assert_eq!((records.len(), keys.len()), (cases, cases), "each case exactly once: {keys:?}");
        let failed: Vec<_> = records.iter().filter(|r| matches!(r.status, Status::Failed { .. })).collect();
        assert_eq!(failed.len(), 1, "{target}: {failed:?}");
        let reason = failed[0].status.reason().unwrap();
        eprintln!("{target} SIGKILLed: {}", reason.lines().next().unwrap_or_default());
        assert!(reason.contains(named), "{target}: {reason}");
        assert_eq!(records.iter().filter(|r| r.status == Status::Measured).count(), cases - 1);
        assert_eq!(failed[0].kernel, "gelu-tanh");
        let before: Vec<_> = records.iter().take_while(|r| r.kernel == "softmax").collect();
        assert_eq!(before.len(), 2, "softmax's records from before the kill are kept");
    }
}

/// A WebDriver server started by hand on a free port, as an endpoint of a fleet would be;
/// killed when dropped, however the test ends.
struct Endpoint {
    child: std::process::Child,
    url: String,
}

impl Endpoint {
    fn start(driver: &str) -> Endpoint {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(driver);
        match driver {
            "chromedriver" => cmd.arg(format!("--port={port}")),
            _ => cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()]),
        };
        let child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
        // Owned at once, so the driver is killed on the panic below too.
        let endpoint = Endpoint { child, url: format!("http://127.0.0.1:{port}") };
        // A liveness deadline, not a timing: the driver listens within a second or two.
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return endpoint;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("{driver} did not listen on port {port}");
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--webdriver-url` repeated, with two chromedrivers and a geckodriver started by hand:
/// Chrome's cases spread over its two endpoints and Firefox's all run on its one, the three
/// side by side; every case runs once, each record names the endpoint that ran it. With
/// `--page-backends auto,webnn` each browser gives one `<browser>-webnn` record per WebNN
/// kernel in the run (not per case or per shard, and none for a kernel WebNN has no operation
/// for), skipped with what the page found: here Chromium (started with WebNN's feature flag)
/// has `navigator.ml` but no backend for this platform, and Firefox has no `navigator.ml`.
#[test]
fn parallel_webdriver_endpoints_share_the_suite_and_webnn_says_what_each_browser_gave() {
    if !ready("chromedriver") || !ready("geckodriver") {
        return;
    }
    let _g = BROWSERS.lock().unwrap_or_else(|e| e.into_inner());
    let chrome = [Endpoint::start("chromedriver"), Endpoint::start("chromedriver")];
    let firefox = Endpoint::start("geckodriver");
    const KERNELS: [&str; 3] = ["softmax", "gelu-erf", "rmsnorm"];
    let urls =
        [format!("chrome={}", chrome[0].url), format!("chrome={}", chrome[1].url), format!("firefox={}", firefox.url)];
    let mut args = vec!["--quick", "--browsers", "chrome,firefox", "--kernels", "softmax,gelu-erf,rmsnorm"];
    args.extend(["--page-backends", "auto,webnn"]);
    for u in &urls {
        args.extend(["--webdriver-url", u.as_str()]);
    }
    let (out, records) = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let cases: usize = KERNELS.iter().map(|k| harness::cases::kernel_by_id(k).unwrap().quick.len()).sum();
    let endpoint = |r: &Record| r.provenance.browser.as_ref().and_then(|b| b.webdriver.clone()).unwrap_or_default();
    for (browser, endpoints) in [("chrome", vec![&chrome[0].url, &chrome[1].url]), ("firefox", vec![&firefox.url])] {
        let gpu: Vec<_> = records.iter().filter(|r| r.backend == format!("{browser}-webgpu")).collect();
        let mut keys: Vec<_> = gpu.iter().map(|r| (r.kernel.as_str(), r.case.as_str())).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!((gpu.len(), keys.len()), (cases, cases), "{browser}: each case exactly once: {keys:?}");
        for url in &endpoints {
            let here = gpu.iter().filter(|r| endpoint(r) == **url).count();
            eprintln!("{browser}: {here} of {cases} cases at {url}");
            assert!(here > 0, "{browser}: nothing ran at {url}");
        }
        assert!(gpu.iter().all(|r| endpoints.contains(&&endpoint(r))), "{browser}: every record names its endpoint");

        let label = format!("{browser}-webnn");
        let webnn: Vec<_> = records.iter().filter(|r| r.backend == label).collect();
        let mut kernels: Vec<_> = webnn.iter().map(|r| r.kernel.as_str()).collect();
        kernels.sort_unstable();
        assert_eq!(kernels, ["gelu-erf", "softmax"], "{browser}: one record per WebNN kernel");
        for r in &webnn {
            let Status::Skipped { reason } = &r.status else {
                panic!("{browser}: WebNN is not measured by this build: {:?}", r.status)
            };
            assert!(reason.starts_with("no WebNN: ") || reason.starts_with("WebNN gave a `"), "{reason}");
            if browser == "firefox" {
                assert!(reason.contains("navigator.ml is undefined"), "{reason}");
            } else {
                assert!(
                    !reason.contains("navigator.ml is undefined"),
                    "the feature flag exposes navigator.ml: {reason}"
                );
            }
            assert_eq!(r.provenance.browser.as_ref().unwrap().name, browser);
            assert!(endpoints.contains(&&endpoint(r)), "{browser}: the WebNN record names its endpoint");
        }
    }
}
