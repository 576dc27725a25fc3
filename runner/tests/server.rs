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
    let dir = std::env::temp_dir().join(format!("accelbench-server-{}-{name}", std::process::id()));
    std::fs::create_dir_all(dir.join("dist")).unwrap();
    std::fs::write(dir.join("dist/index.html"), "<!doctype html><title>accelbench</title>").unwrap();
    std::fs::write(dir.join("dist/app_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_accelbench"))
        .args(["serve", "--addr", "127.0.0.1:0", "--db"])
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
        .to_owned();
    Server { child, base, dir }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

fn post(s: &Server, path: &str, body: &str) -> (u16, serde_json::Value) {
    let mut r = agent()
        .post(format!("{}{path}", s.base))
        .header("content-type", "application/json")
        .send(body)
        .expect("request sent");
    let code = r.status().as_u16();
    (code, r.body_mut().read_json().unwrap_or(serde_json::Value::Null))
}

fn get(s: &Server, path: &str) -> (u16, serde_json::Value) {
    let mut r = agent().get(format!("{}{path}", s.base)).call().expect("request sent");
    let code = r.status().as_u16();
    (code, r.body_mut().read_json().unwrap_or(serde_json::Value::Null))
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

    // The whole quick catalogue on the default backends (every wgpu adapter, native-cpu, the
    // reference), as `accelbench native --quick` runs it.
    let (code, started) = post(&s, "/api/v1/native/runs", r#"{"quick": true, "budget": 0.02}"#);
    assert_eq!(code, 202);
    let id = started["id"].as_str().unwrap().to_owned();
    let mut run = serde_json::Value::Null;
    // A liveness deadline, not a timing: the quick catalogue (training kernels included) takes
    // about ten minutes of a debug build on two busy cores.
    for _ in 0..15000 {
        run = get(&s, &format!("/api/v1/runs/{id}")).1;
        if run["run"]["status"] != "running" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(run["run"]["status"], "done", "{run}");

    let cli = Command::new(env!("CARGO_BIN_EXE_accelbench"))
        .args(["native", "--quick", "--json", "--budget", "0.02"])
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap();
    let cli: Vec<serde_json::Value> =
        String::from_utf8_lossy(&cli.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let key = |r: &serde_json::Value| format!("{} {} {} {}", r["kernel"], r["case"], r["backend"], r["status"]);
    let stored: Vec<String> = run["records"].as_array().unwrap().iter().map(key).collect();
    assert_eq!(stored, cli.iter().map(key).collect::<Vec<_>>());
    let per_backend = harness::catalogue::KERNELS.iter().map(|k| k.quick.len()).sum::<usize>();
    assert!(stored.len() >= 2 * per_backend, "{} records", stored.len());
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
