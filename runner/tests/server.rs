//! The companion server, started for real on an ephemeral loopback port with a temporary
//! database, exercised over HTTP as the page and the runner use it.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    base: String,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn start(name: &str) -> Server {
    start_with(name, "127.0.0.1:0", &[])
}

/// `accelbench serve` on `addr` with `extra` arguments; the base URL is on loopback even when
/// the server listens on every address.
fn start_with(name: &str, addr: &str, extra: &[&str]) -> Server {
    let dir = std::env::temp_dir().join(format!("accelbench-server-{}-{name}", std::process::id()));
    std::fs::create_dir_all(dir.join("dist")).unwrap();
    std::fs::write(dir.join("dist/index.html"), "<!doctype html><title>accelbench</title>").unwrap();
    std::fs::write(dir.join("dist/app_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_accelbench"))
        .args(["serve", "--addr", addr])
        .args(extra)
        .arg("--db")
        .arg(dir.join("test.db"))
        .arg("--dist")
        .arg(dir.join("dist"))
        .arg("--static")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../static"))
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("accelbench serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .replace("0.0.0.0", "127.0.0.1");
    Server { child, base, dir }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

fn post(s: &Server, path: &str, body: &str) -> (u16, serde_json::Value) {
    let (code, body, _) = request(s, "POST", path, None, body);
    (code, body)
}

fn get(s: &Server, path: &str) -> (u16, serde_json::Value) {
    let (code, body, _) = request(s, "GET", path, None, "");
    (code, body)
}

/// One request as a client sends it, with an optional bearer token: the status, the JSON
/// body, and the `WWW-Authenticate` or `Retry-After` header if there is one.
fn request(
    s: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value, Option<String>) {
    let uri = format!("{}{path}", s.base);
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut r = if method == "GET" {
        let mut b = agent().get(&uri);
        if let Some(a) = &auth {
            b = b.header("authorization", a);
        }
        b.call()
    } else {
        let mut b = agent().post(&uri).header("content-type", "application/json");
        if let Some(a) = &auth {
            b = b.header("authorization", a);
        }
        b.send(body)
    }
    .expect("request sent");
    let h = |name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    let hint = h("www-authenticate").or_else(|| h("retry-after"));
    (r.status().as_u16(), r.body_mut().read_json().unwrap_or(serde_json::Value::Null), hint)
}

fn record() -> serde_json::Value {
    serde_json::from_str(include_str!("../../tests/data/record-v1.json")).unwrap()
}

fn run_body(id: &str, rec: serde_json::Value) -> String {
    serde_json::json!({ "id": id, "source": "test", "records": [rec] }).to_string()
}

fn run_count(s: &Server) -> usize {
    get(s, "/api/v1/runs").1.as_array().unwrap().len()
}

#[test]
fn bad_runs_are_refused_with_a_message_naming_the_problem_and_store_nothing() {
    let s = start("bad");
    let (code, body) = post(&s, "/api/v1/runs", "{not json");
    assert_eq!(code, 400);
    assert!(body["error"].as_str().unwrap().contains("not valid JSON"), "{body}");

    let mut v2 = record();
    v2["schema_version"] = 2.into();
    let (code, body) = post(&s, "/api/v1/runs", &run_body("v2", v2));
    assert_eq!(code, 422);
    assert!(body["error"].as_str().unwrap().contains("schema_version 2"), "{body}");

    let mut neg = record();
    neg["timing"]["summary"]["median_ns"] = (-5.0).into();
    let (code, body) = post(&s, "/api/v1/runs", &run_body("neg", neg));
    assert_eq!(code, 422);
    assert!(body["error"].as_str().unwrap().contains("median_ns"), "{body}");

    // JSON has no NaN; a client that writes one sends invalid JSON.
    let nan = run_body("nan", record()).replace("\"median_ns\":1500.0", "\"median_ns\":NaN");
    assert_eq!(post(&s, "/api/v1/runs", &nan).0, 400);

    let mut missing = record();
    missing.as_object_mut().unwrap().remove("backend");
    let (code, body) = post(&s, "/api/v1/runs", &run_body("missing", missing));
    assert_eq!(code, 422);
    assert!(body["error"].as_str().unwrap().contains("backend"), "{body}");

    assert_eq!(post(&s, "/api/v1/runs", "{\"records\": []}").0, 422);
    assert_eq!(run_count(&s), 0, "nothing may be stored from a refused request");
}

#[test]
fn a_retried_post_is_stored_once_and_concurrent_posts_all_land() {
    let s = start("idem");
    let body = run_body("run-1", record());
    let (code, first) = post(&s, "/api/v1/runs", &body);
    assert_eq!((code, first["stored"].as_bool()), (201, Some(true)));
    let (code, again) = post(&s, "/api/v1/runs", &body);
    assert_eq!((code, again["stored"].as_bool()), (200, Some(false)));
    assert_eq!(run_count(&s), 1);
    let (code, detail) = get(&s, "/api/v1/runs/run-1");
    assert_eq!(code, 200);
    assert_eq!(detail["records"].as_array().unwrap().len(), 1);
    assert_eq!(detail["records"][0]["kernel"], "softmax");

    std::thread::scope(|scope| {
        for i in 0..20 {
            let s = &s;
            scope.spawn(move || {
                let (code, _) = post(s, "/api/v1/runs", &run_body(&format!("c-{i}"), record()));
                assert_eq!(code, 201);
            });
        }
    });
    assert_eq!(run_count(&s), 21);
    assert_eq!(get(&s, "/api/v1/health").1["records"], 21);
    assert_eq!(get(&s, "/api/v1/runs?kernel=softmax&limit=5").1.as_array().unwrap().len(), 5);
    assert_eq!(get(&s, "/api/v1/runs?kernel=matmul-f32").1.as_array().unwrap().len(), 0);
    assert_eq!(get(&s, "/api/v1/runs/nope").0, 404);

    let (code, cmp) = get(&s, "/api/v1/compare?base=c-1&candidate=c-2");
    assert_eq!(code, 200);
    // The same five samples on both sides: ratio exactly 1, and never called slower.
    let m = &cmp["matches"][0];
    assert_eq!(m["ratio"], 1.0);
    assert!(m["verdict"] == "unchanged" || m["verdict"] == "inconclusive", "{m}");
}

#[test]
fn the_page_is_served_cross_origin_isolated_with_the_right_types() {
    let s = start("static");
    for path in ["/", "/app_bg.wasm", "/static/speech.wav", "/api/v1/health"] {
        let r = agent().get(format!("{}{path}", s.base)).call().unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_eq!(r.headers()["cross-origin-opener-policy"], "same-origin", "{path}");
        assert_eq!(r.headers()["cross-origin-embedder-policy"], "require-corp", "{path}");
        if path.ends_with(".wasm") {
            assert_eq!(r.headers()["content-type"], "application/wasm");
        }
    }
    let r = agent().get(format!("{}/static/../Cargo.toml", s.base)).call().unwrap();
    assert_ne!(r.status().as_u16(), 200, "no path escapes the served folders");
    let (code, backends) = get(&s, "/api/v1/backends");
    assert_eq!(code, 200);
    let rocm = backends.as_array().unwrap().iter().find(|b| b["backend"] == "native-rocm").unwrap();
    assert_eq!(rocm["available"], false);
    assert!(rocm["fix"].is_string());
}

#[test]
fn a_native_run_on_request_is_stored_like_the_cli_prints_it() {
    let s = start("native");
    let (code, bad) = post(&s, "/api/v1/native/runs", r#"{"kernels": ["nope"]}"#);
    assert_eq!(code, 422);
    assert!(bad["error"].as_str().unwrap().contains("nope"));
    // A user case with a key the kernel lacks is refused before anything runs, naming it.
    let (code, bad) = post(&s, "/api/v1/native/runs", r#"{"cases": ["matmul-f32:m=64,rows=2"]}"#);
    assert_eq!(code, 422);
    let why = bad["error"].as_str().unwrap();
    assert!(why.contains("no parameter `rows`") && why.contains("batch (1..="), "{why}");

    // A selection across families (a matmul, a reduction, an attention kernel, fp16 where an
    // adapter has it, a backward kernel) on the default backends (every wgpu adapter,
    // native-cpu, the reference), as `accelbench native --quick --kernels ...` runs it. The
    // whole quick catalogue is the CLI test's; twice over in a debug build it took 20 minutes.
    const KERNELS: [&str; 5] = ["matmul-f32", "softmax", "attention-causal", "layernorm-f16", "rmsnorm-backward"];
    let body = serde_json::json!({"quick": true, "budget": 0.02, "kernels": KERNELS}).to_string();
    let (code, started) = post(&s, "/api/v1/native/runs", &body);
    assert_eq!(code, 202);
    let id = started["id"].as_str().unwrap().to_owned();
    let mut run = serde_json::Value::Null;
    // A liveness deadline, not a timing.
    for _ in 0..6000 {
        run = get(&s, &format!("/api/v1/runs/{id}")).1;
        if run["run"]["status"] != "running" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(run["run"]["status"], "done", "{run}");

    let cli = Command::new(env!("CARGO_BIN_EXE_accelbench"))
        .args(["native", "--quick", "--json", "--budget", "0.02", "--no-store", "--kernels", &KERNELS.join(",")])
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap();
    let cli: Vec<serde_json::Value> =
        String::from_utf8_lossy(&cli.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let key = |r: &serde_json::Value| format!("{} {} {} {}", r["kernel"], r["case"], r["backend"], r["status"]);
    let stored: Vec<String> = run["records"].as_array().unwrap().iter().map(key).collect();
    assert_eq!(stored, cli.iter().map(key).collect::<Vec<_>>());
    let per_backend: usize = KERNELS
        .iter()
        .map(|id| harness::cases::kernel_by_id(id).unwrap_or_else(|| panic!("{id} is in the catalogue")).quick.len())
        .sum();
    assert!(stored.len() >= 2 * per_backend, "{} records", stored.len());
    for r in run["records"].as_array().unwrap() {
        assert_ne!(r["status"], "mismatch", "{r}");
    }
}

/// A seeded history: 20 runs of one record whose median steps up 30% from run 12 on (commit
/// `c12`); `GET /api/v1/series` gives one series of 20 points with that change point, and a
/// bad metric is refused naming the choices.
#[test]
fn series_show_a_seeded_change_point_at_its_commit() {
    let s = start("series");
    for i in 0..20 {
        let mut r = record();
        let level = if i < 12 { 1.0e6 } else { 1.3e6 };
        let wobble = 1.0 + 0.01 * f64::from(i % 3);
        let samples: Vec<f64> = (0..30).map(|j| level * wobble * (1.0 + 0.002 * f64::from(j % 4))).collect();
        r["timing"]["summary"] =
            serde_json::to_value(harness::stats::Sample::new(&samples).unwrap().summary()).unwrap();
        r["timing"]["samples_ns"] = serde_json::json!(samples);
        r["provenance"]["commit"] = serde_json::json!(format!("c{i}"));
        assert_eq!(post(&s, "/api/v1/runs", &run_body(&format!("h-{i:02}"), r)).0, 201);
    }
    let (code, series) = get(&s, "/api/v1/series?kernel=softmax");
    assert_eq!(code, 200, "{series}");
    let series = series.as_array().unwrap();
    assert_eq!(series.len(), 1, "{series:?}");
    let one = &series[0];
    assert_eq!(one["points"].as_array().unwrap().len(), 20);
    let changes = one["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!((changes[0]["index"].as_u64(), changes[0]["commit"].as_str()), (Some(12), Some("c12")));
    let ratio = changes[0]["ratio"].as_f64().unwrap();
    assert!((ratio - 1.3).abs() < 0.03, "{ratio}");
    // Narrowed to another machine: nothing.
    assert_eq!(get(&s, "/api/v1/series?kernel=softmax&machine=ffffff").1.as_array().unwrap().len(), 0);
    let (code, err) = get(&s, "/api/v1/series?metric=speed");
    assert_eq!(code, 422);
    assert!(err["error"].as_str().unwrap().contains("tokens-per-s"), "{err}");
}

/// Beyond loopback the server needs a write token: without one `serve` exits 2 naming the
/// flag; with one, writes without it (or with a wrong one) get 401 and store nothing, reads stay
/// open, native runs on request are off, a client's writes are rate limited, and a read token
/// closes the API reads but not /health. `accelbench run --server --write-token-file` stores.
#[test]
fn beyond_loopback_writes_need_the_token_and_store_nothing_without_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_accelbench"))
        .args(["serve", "--addr", "0.0.0.0:0", "--db", "/nonexistent/never-opened.db"])
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to listen on 0.0.0.0:0") && err.contains("--write-token-file"), "{err}");

    let keys = tempfile::tempdir().unwrap();
    let (write, read) = ("w-0123456789abcdef-token", "r-0123456789abcdef-token");
    std::fs::write(keys.path().join("write"), format!("{write}\n")).unwrap();
    std::fs::write(keys.path().join("read"), read).unwrap();
    std::fs::write(keys.path().join("short"), "abc").unwrap();
    let wfile = keys.path().join("write").display().to_string();
    let rfile = keys.path().join("read").display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_accelbench"))
        .args(["serve", "--addr", "0.0.0.0:0", "--write-token-file"])
        .arg(keys.path().join("short"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 16"));

    let s = start_with("tokens", "0.0.0.0:0", &["--write-token-file", &wfile, "--max-writes-per-minute", "5"]);
    let body = run_body("fleet-1", record());
    let (code, e, www) = request(&s, "POST", "/api/v1/runs", None, &body);
    assert_eq!(code, 401, "{e}");
    assert!(e["error"].as_str().unwrap().contains("--write-token-file"), "{e}");
    assert_eq!(www.as_deref(), Some("Bearer realm=\"accelbench\""));
    assert_eq!(request(&s, "POST", "/api/v1/runs", Some(read), &body).0, 401);
    assert_eq!(run_count(&s), 0, "a refused write stores nothing");
    assert_eq!(request(&s, "POST", "/api/v1/runs", Some(write), &body).0, 201);
    assert_eq!(run_count(&s), 1, "reads are open without a read token");
    let (code, e, _) = request(&s, "POST", "/api/v1/native/runs", Some(write), "{}");
    assert_eq!(code, 403, "{e}");
    assert!(e["error"].as_str().unwrap().contains("--allow-native-runs"), "{e}");
    // Five writes a minute, refused ones included (they are how tokens are guessed): one
    // more is admitted, the next is told when to retry.
    assert_eq!(request(&s, "POST", "/api/v1/runs", Some(write), &run_body("fleet-2", record())).0, 201);
    let (code, e, retry) = request(&s, "POST", "/api/v1/runs", Some(write), &run_body("fleet-3", record()));
    assert_eq!(code, 429, "{e}");
    assert!(retry.is_some_and(|r| r.parse::<u64>().unwrap() >= 1));
    assert_eq!(run_count(&s), 2);
    drop(s);

    let s = start_with("read-token", "0.0.0.0:0", &["--write-token-file", &wfile, "--read-token-file", &rfile]);
    assert_eq!(request(&s, "GET", "/api/v1/runs", None, "").0, 401);
    assert_eq!(request(&s, "GET", "/api/v1/health", None, "").0, 200);
    assert_eq!(request(&s, "GET", "/api/v1/runs", Some(read), "").0, 200);
    assert_eq!(request(&s, "GET", "/api/v1/runs", Some(write), "").0, 200);

    // The runner sends the token with the run it stores; without it the run is kept in its
    // file and the warning names the flag.
    let run = |token: Option<&str>| {
        let out_file = keys.path().join(format!("run-{}.jsonl", token.is_some()));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_accelbench"));
        cmd.args(["run", "--browsers", "", "--native", "--native-backends", "cpu", "--kernels", "softmax"])
            .args(["--quick", "--budget", "0.02", "--server", &s.base, "--out"])
            .arg(&out_file)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir());
        if let Some(t) = token {
            cmd.args(["--write-token-file", t]);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            std::fs::read_to_string(out_file).unwrap(),
        )
    };
    let (code, err, kept) = run(None);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("not stored") && err.contains("--write-token-file"), "{err}");
    assert!(kept.lines().count() >= 2, "the records stay in the file:\n{kept}");
    let (code, err, _) = run(Some(&wfile));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("stored as run"), "{err}");
    assert_eq!(request(&s, "GET", "/api/v1/runs", Some(read), "").1.as_array().unwrap().len(), 1);
}
