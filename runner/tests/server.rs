//! The companion server, started for real on an ephemeral loopback port with a temporary
//! database, exercised over HTTP as the page and the runner use it. Every test that stores
//! runs runs twice: on SQLite and on PostgreSQL (a server the tests start themselves).

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

#[path = "support/postgres.rs"]
mod postgres;

/// The database a test's server stores into.
#[derive(Clone, Debug)]
enum Db {
    /// A file in the server's temporary directory.
    Sqlite,
    /// A fresh database on the tests' PostgreSQL server.
    Postgres(String),
    /// An SQLite file at this path.
    File(std::path::PathBuf),
}

/// Each named test `fn name(db: Db)` as two tests, `name::sqlite` and `name::postgres`.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::Db::Sqlite);
            }
            #[test]
            fn postgres() {
                if let Some(url) = super::postgres::database(stringify!($name)) {
                    super::$name(super::Db::Postgres(url));
                }
            }
        }
    )*};
}

on_both_databases!(
    bad_runs_are_refused_with_a_message_naming_the_problem_and_store_nothing,
    a_retried_post_is_stored_once_and_concurrent_posts_all_land,
    the_page_is_served_cross_origin_isolated_with_the_right_types,
    a_native_run_on_request_is_stored_like_the_cli_prints_it,
    series_show_a_seeded_change_point_at_its_commit,
    beyond_loopback_writes_need_the_token_and_store_nothing_without_it,
    a_server_killed_during_concurrent_ingest_keeps_every_acknowledged_run_whole,
    hostile_bodies_get_a_4xx_naming_the_problem_and_the_server_stays_up,
);

struct Server {
    child: Child,
    base: String,
    dir: std::path::PathBuf,
    /// How it was started, for [`Server::restart`].
    args: Vec<std::ffi::OsString>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn start(name: &str, db: &Db) -> Server {
    start_with(name, db, "127.0.0.1:0", &[])
}

/// `accelbench serve` on `addr` with `extra` arguments; the base URL is on loopback even when
/// the server listens on every address.
fn start_with(name: &str, db: &Db, addr: &str, extra: &[&str]) -> Server {
    let kind = if matches!(db, Db::Postgres(_)) { "pg" } else { "sqlite" };
    let dir = std::env::temp_dir().join(format!("accelbench-server-{}-{name}-{kind}", std::process::id()));
    std::fs::create_dir_all(dir.join("dist")).unwrap();
    std::fs::write(dir.join("dist/index.html"), "<!doctype html><title>accelbench</title>").unwrap();
    std::fs::write(dir.join("dist/app_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let mut args: Vec<std::ffi::OsString> = ["serve", "--addr", addr].iter().chain(extra).map(Into::into).collect();
    args.push("--db".into());
    args.push(match db {
        Db::Sqlite => dir.join("test.db").into(),
        Db::Postgres(url) => url.into(),
        Db::File(path) => path.into(),
    });
    args.extend(["--dist".into(), dir.join("dist").into()]);
    args.extend(["--static".into(), concat!(env!("CARGO_MANIFEST_DIR"), "/../static").into()]);
    let (child, base) = spawn(&args);
    Server { child, base, dir, args }
}

fn spawn(args: &[std::ffi::OsString]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_accelbench"))
        .args(args)
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
    (child, base)
}

impl Server {
    /// SIGKILLs the server (no graceful shutdown, no checkpoint) and starts it again on the
    /// same database; the new one listens on a new port.
    fn kill_and_restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let (child, base) = spawn(&self.args);
        self.child = child;
        self.base = base;
    }
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

fn bad_runs_are_refused_with_a_message_naming_the_problem_and_store_nothing(db: Db) {
    let s = start("bad", &db);
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

fn a_retried_post_is_stored_once_and_concurrent_posts_all_land(db: Db) {
    let s = start("idem", &db);
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

fn the_page_is_served_cross_origin_isolated_with_the_right_types(db: Db) {
    let s = start("static", &db);
    for path in ["/", "/app_bg.wasm", "/static/speech.wav", "/api/v1/health"] {
        let r = agent().get(format!("{}{path}", s.base)).call().unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_eq!(r.headers()["cross-origin-opener-policy"], "same-origin", "{path}");
        assert_eq!(r.headers()["cross-origin-embedder-policy"], "require-corp", "{path}");
        if path.ends_with(".wasm") {
            assert_eq!(r.headers()["content-type"], "application/wasm");
        }
    }
    // No path escapes the served folders: not `..` (plain or percent-encoded), and not a
    // symbolic link inside one that points outside it.
    let secret = s.dir.join("secret.txt");
    std::fs::write(&secret, "not for the web").unwrap();
    std::os::unix::fs::symlink(&secret, s.dir.join("dist/leak.txt")).unwrap();
    std::os::unix::fs::symlink(&s.dir, s.dir.join("dist/up")).unwrap();
    std::fs::write(s.dir.join("dist/inside.txt"), "served").unwrap();
    std::os::unix::fs::symlink("inside.txt", s.dir.join("dist/alias.txt")).unwrap();
    for path in [
        "/static/../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/static/..%2fCargo.toml",
        "/leak.txt",
        "/up/secret.txt",
        "/%2e%2e/secret.txt",
    ] {
        let r = agent().get(format!("{}{path}", s.base)).call().unwrap();
        assert_ne!(r.status().as_u16(), 200, "{path} escapes its folder");
    }
    let mut r = agent().get(format!("{}/alias.txt", s.base)).call().unwrap();
    assert_eq!(r.status().as_u16(), 200, "a link that stays inside is served");
    assert_eq!(r.body_mut().read_to_string().unwrap(), "served");
    let (code, backends) = get(&s, "/api/v1/backends");
    assert_eq!(code, 200);
    let rocm = backends.as_array().unwrap().iter().find(|b| b["backend"] == "native-rocm").unwrap();
    assert_eq!(rocm["available"], false);
    assert!(rocm["fix"].is_string());
}

fn a_native_run_on_request_is_stored_like_the_cli_prints_it(db: Db) {
    let s = start("native", &db);
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
fn series_show_a_seeded_change_point_at_its_commit(db: Db) {
    let s = start("series", &db);
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
fn beyond_loopback_writes_need_the_token_and_store_nothing_without_it(db: Db) {
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

    let s = start_with("tokens", &db, "0.0.0.0:0", &["--write-token-file", &wfile, "--max-writes-per-minute", "5"]);
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

    let s = start_with("read-token", &db, "0.0.0.0:0", &["--write-token-file", &wfile, "--read-token-file", &rfile]);
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
    // On PostgreSQL both servers of this test share one database.
    let before = request(&s, "GET", "/api/v1/runs", Some(read), "").1.as_array().unwrap().len();
    let (code, err, kept) = run(None);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("not stored") && err.contains("--write-token-file"), "{err}");
    assert!(kept.lines().count() >= 2, "the records stay in the file:\n{kept}");
    let (code, err, _) = run(Some(&wfile));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("stored as run"), "{err}");
    assert_eq!(request(&s, "GET", "/api/v1/runs", Some(read), "").1.as_array().unwrap().len(), before + 1);
}

/// 20 clients post runs of 40 records as fast as they can; the server is SIGKILLed in the
/// middle and started again on the same database. Every run a client was told is stored (201)
/// is there with all its records, every run there is whole, and the server takes new runs.
fn a_server_killed_during_concurrent_ingest_keeps_every_acknowledged_run_whole(db: Db) {
    const CLIENTS: usize = 20;
    const RECORDS: usize = 40;
    let mut s = start_with("kill-ingest", &db, "127.0.0.1:0", &["--max-writes-per-minute", "0"]);
    let body =
        |id: &str| serde_json::json!({"id": id, "source": "test", "records": vec![record(); RECORDS]}).to_string();
    let acked = std::sync::Mutex::new(Vec::<String>::new());
    let latencies = std::sync::Mutex::new(Vec::<f64>::new());
    // Set before the kill: a restarted server could, rarely, get the old port back.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let base = s.base.clone();
    std::thread::scope(|scope| {
        for c in 0..CLIENTS {
            let (acked, latencies, base, body, stop) = (&acked, &latencies, &base, &body, &stop);
            scope.spawn(move || {
                for i in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let id = format!("k-{c}-{i}");
                    let t = std::time::Instant::now();
                    let sent = agent()
                        .post(format!("{base}/api/v1/runs"))
                        .header("content-type", "application/json")
                        .send(body(&id));
                    match sent {
                        Ok(r) if r.status().as_u16() == 201 => {
                            latencies.lock().unwrap().push(t.elapsed().as_secs_f64());
                            acked.lock().unwrap().push(id);
                        }
                        Ok(r) => panic!("run {id}: status {}", r.status()),
                        // The server is gone: this client stops.
                        Err(_) => break,
                    }
                }
            });
        }
        // Kill it while every client is mid-stream: after 60 acknowledged runs.
        while acked.lock().unwrap().len() < 60 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        s.kill_and_restart();
    });
    let acked = acked.into_inner().unwrap();
    let mut lat = latencies.into_inner().unwrap();
    lat.sort_by(f64::total_cmp);
    eprintln!(
        "{db:?}: {} runs of {RECORDS} records acknowledged by {CLIENTS} clients; ingest p50 {:.0} ms, p99 {:.0} ms",
        acked.len(),
        lat[lat.len() / 2] * 1e3,
        lat[lat.len() * 99 / 100] * 1e3
    );
    let (code, runs) = get(&s, "/api/v1/runs?limit=1000");
    assert_eq!(code, 200, "{runs}");
    let runs = runs.as_array().unwrap();
    for r in runs {
        assert_eq!(r["records"], RECORDS, "a run is whole or absent: {r}");
    }
    let stored: std::collections::HashSet<&str> = runs.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for id in &acked {
        assert!(stored.contains(id.as_str()), "run {id} was acknowledged but is gone after the crash");
    }
    assert!(stored.len() >= acked.len() && stored.len() <= acked.len() + CLIENTS, "{} stored", stored.len());
    let (code, detail) = get(&s, &format!("/api/v1/runs/{}", acked[0]));
    assert_eq!((code, detail["records"].as_array().map(Vec::len)), (200, Some(RECORDS)));
    assert_eq!(post(&s, "/api/v1/runs", &body("after-restart")).0, 201);
}

/// Bodies no client should send: each gets a 4xx whose message names the problem, nothing is
/// stored, and the server answers the next request.
fn hostile_bodies_get_a_4xx_naming_the_problem_and_the_server_stays_up(db: Db) {
    let s = start("hostile", &db);
    // 100 MB, past the 32 MiB limit: refused from its Content-Length, before it is read.
    let (code, text) = raw_post(&s, "/api/v1/runs", 100 << 20);
    assert_eq!(code, 413, "{text}");
    assert!(text.contains("32 MiB"), "{text}");

    let deep = format!("{{\"id\": \"deep\", \"records\": [{}{}]}}", "[".repeat(10_000), "]".repeat(10_000));
    let (code, body) = post(&s, "/api/v1/runs", &deep);
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("recursion limit"), "{body}");

    for bad in ["NaN", "Infinity", "-Infinity", "1e999"] {
        let text = run_body("inf", record()).replace("\"median_ns\":1500.0", &format!("\"median_ns\":{bad}"));
        let (code, body) = post(&s, "/api/v1/runs", &text);
        assert_eq!(code, 400, "{bad}: {body}");
    }

    // A million (empty) records: the first is refused, naming it, and nothing else is kept.
    let million = format!("{{\"id\": \"million\", \"records\": [{}{{}}]}}", "{},".repeat(999_999));
    let (code, body) = post(&s, "/api/v1/runs", &million);
    assert_eq!(code, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("records[0]"), "{body}");

    // Every field of a record, one at a time, given a value of the wrong type: refused with
    // the field's path in the message.
    let mut fields = Vec::new();
    leaves(&record(), String::new(), &mut fields);
    assert!(fields.len() > 40, "{} fields", fields.len());
    for (path, wrong) in &fields {
        let mut r = record();
        *r.pointer_mut(&pointer(path)).unwrap() = wrong.clone();
        let (code, body) = post(&s, "/api/v1/runs", &run_body("typed", r));
        assert_eq!(code, 422, "`{path}` = {wrong}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(&format!("records[0]: not a schema v1 record: `{path}`")), "`{path}`: {error}");
    }
    assert_eq!(run_count(&s), 0, "nothing may be stored from a refused request");
    assert_eq!(get(&s, "/api/v1/health").0, 200);
    assert_eq!(post(&s, "/api/v1/runs", &run_body("fine", record())).0, 201);
}

/// Each leaf of `v` (a string, number or bool; `params`' free-form values aside) as its path
/// in serde_path_to_error's form (`timing.summary.median_ns`, `timing.samples_ns[0]`) with a
/// value of another type.
fn leaves(v: &serde_json::Value, path: String, out: &mut Vec<(String, serde_json::Value)>) {
    use serde_json::Value;
    let child = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                // Kernel parameters are numbers or strings by design (`params`); an adapter's
                // feature list is any strings.
                if path.is_empty() && k == "params" {
                    continue;
                }
                leaves(x, child(k), out);
            }
        }
        // The first element stands for the rest.
        Value::Array(a) => {
            if let Some(x) = a.first() {
                leaves(x, format!("{path}[0]"), out);
            }
        }
        Value::String(_) => out.push((path, Value::from(7))),
        Value::Number(_) => out.push((path, Value::from("seven"))),
        Value::Bool(_) => out.push((path, Value::from("yes"))),
        Value::Null => {}
    }
}

/// serde_path_to_error's `a.b[0].c` as a JSON pointer, `/a/b/0/c`.
fn pointer(path: &str) -> String {
    path.split('.').flat_map(|seg| seg.split('[')).map(|s| format!("/{}", s.trim_end_matches(']'))).collect()
}

/// POSTs `len` bytes of zeros with a Content-Length saying so, over a plain socket, reading the
/// answer while it writes (the server answers and closes before the body is all sent); the
/// status and the body of the answer.
fn raw_post(s: &Server, path: &str, len: usize) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let host = s.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n"
    );
    let sender = std::thread::spawn(move || {
        writer.write_all(head.as_bytes()).ok()?;
        let chunk = vec![b'0'; 1 << 20];
        for _ in 0..len.div_ceil(chunk.len()) {
            writer.write_all(&chunk).ok()?;
        }
        Some(())
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // Headers and a short JSON body; stop at the end of the body or when the server closes.
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ")?.parse::<usize>().ok());
            if len.is_some_and(|n| body.len() >= n) {
                break;
            }
        }
    }
    stream.shutdown(std::net::Shutdown::Both).ok();
    sender.join().ok();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let code = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, text)
}

/// The disk under an SQLite database fills up (a 1 MiB tmpfs): the run that does not fit gets
/// 507 naming the database and what to do, nothing of it is stored, every earlier run is whole,
/// and the server keeps answering. Mounting needs root, as `./x test` runs in CI; elsewhere it
/// is skipped unless ACCELBENCH_REQUIRE_ROOT=1.
#[test]
fn a_full_disk_under_the_database_is_a_clear_error_and_loses_nothing() {
    struct Mount(std::path::PathBuf);
    impl Drop for Mount {
        fn drop(&mut self) {
            Command::new("umount").arg(&self.0).status().ok();
            std::fs::remove_dir_all(&self.0).ok();
        }
    }
    let at = std::env::temp_dir().join(format!("accelbench-full-{}", std::process::id()));
    std::fs::create_dir_all(&at).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"]).arg(&at).status();
    if !mounted.is_ok_and(|s| s.success()) {
        std::fs::remove_dir_all(&at).ok();
        assert!(
            !std::env::var("ACCELBENCH_REQUIRE_ROOT").is_ok_and(|v| v == "1"),
            "ACCELBENCH_REQUIRE_ROOT=1 but a tmpfs cannot be mounted at {} (run as root)",
            at.display()
        );
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let _mount = Mount(at.clone());
    let s = start("full", &Db::File(at.join("test.db")));
    let body = |id: &str| serde_json::json!({"id": id, "source": "test", "records": vec![record(); 40]}).to_string();
    let mut stored = Vec::new();
    let (code, refused) = loop {
        let id = format!("fill-{}", stored.len());
        let (code, answer) = post(&s, "/api/v1/runs", &body(&id));
        if code != 201 {
            break (code, answer);
        }
        stored.push(id);
        assert!(stored.len() < 1000, "a 1 MiB disk never filled");
    };
    assert!(!stored.is_empty(), "the disk was full before the first run: {refused}");
    eprintln!("{} runs stored before the disk filled; then {code}: {refused}", stored.len());
    assert_eq!(code, 507, "{refused}");
    let why = refused["error"].as_str().unwrap();
    assert!(why.contains("full") && why.contains("--db") && why.contains("nothing of this run"), "{why}");
    let (code, runs) = get(&s, "/api/v1/runs?limit=1000");
    assert_eq!(code, 200);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), stored.len(), "the refused run is absent");
    for r in runs {
        assert_eq!(r["records"], 40, "every stored run is whole: {r}");
    }
    assert_eq!(get(&s, "/api/v1/health").0, 200);
}

/// The commands beside the server take a PostgreSQL URL too: `native --db` stores its run
/// there and `history --db` reads the series back.
#[test]
fn native_stores_into_postgres_and_history_reads_it() {
    let Some(url) = postgres::database("cli_commands") else { return };
    let accelbench = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_accelbench"))
            .args(args)
            .args(["--db", &url])
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for _ in 0..2 {
        accelbench(&["native", "--quick", "--kernels", "softmax", "--backends", "cpu", "--budget", "0.02"]);
    }
    let series: Vec<serde_json::Value> =
        serde_json::from_str(&accelbench(&["history", "--kernel", "softmax", "--backend", "native-cpu", "--json"]))
            .unwrap();
    assert!(!series.is_empty());
    for s in &series {
        assert_eq!(s["points"].as_array().unwrap().len(), 2, "{s}");
    }
}
