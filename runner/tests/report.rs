//! The HTML report and the dashboard as a person looks at them, in headless Chromium: the
//! report `run --html` and `report --format html` write, opened from disk (nothing fetched),
//! and the dashboard `serve` offers at `/dashboard` over a seeded database, each checked on
//! what the browser shows (sections, charts, their text, sizes) and screenshotted to
//! `$CARGO_TARGET_TMPDIR/report-screenshots/`.
//!
//! Needs the built page (for the dashboard), Chromium and chromedriver; without them the tests
//! say so and pass, unless ACCELBENCH_REQUIRE_BROWSERS=1 (set by `./x test`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use fantoccini::Locator;
use runner::browser::Browser;
use runner::browser::page::PageSession;
use runner::server::InProcess;
use serde_json::{Value, json};

/// One browser at a time: two would share 2 cores and each would crawl.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn ready() -> bool {
    let dist = root().join("dist/index.html");
    let has_driver = Command::new("chromedriver").arg("--version").output().is_ok_and(|o| o.status.success());
    let missing = match (dist.exists(), has_driver, Browser::Chrome.binary().is_some()) {
        (true, true, true) => return true,
        (false, _, _) => format!("{} (run `trunk build --release`)", dist.display()),
        (true, false, _) => "chromedriver (see `accelbench doctor`)".to_owned(),
        (true, true, false) => format!("Chromium ({})", Browser::Chrome.install_hint()),
    };
    if std::env::var("ACCELBENCH_REQUIRE_BROWSERS").is_ok_and(|v| v == "1") {
        panic!("browser tests required but {missing} is missing");
    }
    eprintln!("skipping: {missing} is missing");
    false
}

fn accelbench(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_accelbench"))
        .args(args)
        .current_dir(root())
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("accelbench runs");
    assert_eq!(out.status.code(), Some(0), "accelbench {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn shots() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn screenshot(s: &PageSession, name: &str) -> anyhow::Result<()> {
    let png = s.client().screenshot().await.context("taking a screenshot")?;
    std::fs::write(shots().join(format!("{name}.png")), png)?;
    Ok(())
}

/// What the browser shows of `css`: each match's text and rendered width.
async fn shown(s: &PageSession, css: &str) -> anyhow::Result<Vec<(String, f64)>> {
    let v = s
        .script(
            "reading the rendered elements",
            "return [...document.querySelectorAll(arguments[0])].map(e => [e.textContent, e.getBoundingClientRect().width]);",
            vec![json!(css)],
        )
        .await?;
    Ok(v.as_array()
        .context("not an array")?
        .iter()
        .map(|p| (p[0].as_str().unwrap_or_default().to_owned(), p[1].as_f64().unwrap_or(0.0)))
        .collect())
}

/// The report's charts in their sections: every named section has a drawn SVG, wide enough to
/// read, whose text names what it must.
async fn check_sections(s: &PageSession, want: &[(&str, &[&str])]) -> anyhow::Result<()> {
    for (section, words) in want {
        let svgs = shown(s, &format!("section#{section} figure svg")).await?;
        ensure!(!svgs.is_empty(), "section #{section} shows no chart");
        for (text, width) in &svgs {
            ensure!(*width > 600.0, "a chart in #{section} renders {width} px wide");
            ensure!(!text.trim().is_empty(), "a chart in #{section} has no text");
        }
        let all: String = svgs.iter().map(|(t, _)| t.as_str()).collect();
        for w in *words {
            ensure!(all.contains(w), "#{section}'s charts do not show `{w}`");
        }
    }
    Ok(())
}

async fn open_file(s: &PageSession, path: &Path) -> anyhow::Result<()> {
    s.client().goto(&format!("file://{}", path.display())).await.context("opening the report")?;
    Ok(())
}

/// `run --html` (Chromium and native, with a sweep) and `report --format html` over that run
/// plus a model's inference and training records: one self-contained file each, every
/// section drawn in Chromium.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_draws_every_section_in_chromium() {
    if !ready() {
        return;
    }
    let _one = BROWSER.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let p = |f: &str| tmp.path().join(f).display().to_string();
    let (run_out, db, run_html, models, all_html) =
        (p("run.jsonl"), p("run.db"), p("run.html"), p("models.jsonl"), p("all.html"));
    let run = tokio::task::spawn_blocking(move || {
        accelbench(&[
            "run",
            "--quick",
            "--browsers",
            "chrome",
            "--native",
            "--kernels",
            "peak-bandwidth,matmul-f32,matmul-f16,softmax",
            "--sweep",
            "softmax:cols=256,1024",
            "--budget",
            "0.1",
            "--out",
            &run_out,
            "--db",
            &db,
            "--html",
            &run_html,
        ]);
        accelbench(&["model", "gpt2-small", "--quick", "--backends", "cpu", "--out", &models]);
        accelbench(&["model", "gpt2-small", "--quick", "--train", "--backends", "cpu", "--out", &models]);
        let out = accelbench(&["report", "--format", "html", &run_out, &models]);
        std::fs::write(&all_html, &out.stdout).unwrap();
    });
    run.await.unwrap();

    for f in ["run.html", "all.html"] {
        let html = std::fs::read_to_string(tmp.path().join(f)).unwrap();
        // Self-contained: no script, stylesheet, image or frame from anywhere; links are anchors.
        for banned in ["<script", "<link", "<img", "<iframe", "src=", "@import", "url("] {
            assert!(!html.contains(banned), "{f} holds `{banned}`");
        }
        assert!(html.split("href=\"").skip(1).all(|h| h.starts_with('#')), "{f} links outside itself");
    }

    let session = PageSession::open(Browser::Chrome, None, Duration::from_secs(60)).await.unwrap();
    let result = async {
        session.client().set_window_size(1280, 2400).await?;
        open_file(&session, &tmp.path().join("run.html")).await?;
        let title = session.client().title().await?;
        ensure!(title.starts_with("accelbench report"), "title {title}");
        // Browser vs native: a ratio with its interval per Chromium case that native also ran.
        check_sections(
            &session,
            &[
                ("browser-vs-native", &["chrome-webgpu / native-wgpu", "browser median / native median"]),
                ("throughput", &["chrome-webgpu", "native-cpu", "GFLOP/s", "GB/s"]),
                ("latency", &["sample / median"]),
                ("scaling", &["cols", "median time"]),
                ("precision", &["f16"]),
            ],
        )
        .await?;
        // Each backend's environment, SwiftShader's flags among them; the f16 skip with its reason.
        let env = shown(&session, "#environment-table").await?;
        ensure!(env[0].0.contains("--enable-unsafe-webgpu") && env[0].0.contains("SwiftShader"), "{}", env[0].0);
        let skipped = shown(&session, "#not-measured-table").await?;
        ensure!(skipped[0].0.contains("shader-f16"), "{}", skipped[0].0);
        screenshot(&session, "run-report").await?;

        open_file(&session, &tmp.path().join("all.html")).await?;
        check_sections(
            &session,
            &[
                ("models", &["tokens/s", "gpt2-small", "weights", "kv-cache"]),
                ("training", &["training step", "inference (prompt pass)", "cross-entropy"]),
            ],
        )
        .await?;
        let models = shown(&session, "#models-table tbody tr").await?;
        ensure!(models.iter().any(|(t, _)| t.contains("native-cpu")), "{models:?}");
        session
            .script("scrolling to training", "document.getElementById('training').scrollIntoView();", vec![])
            .await?;
        screenshot(&session, "models-report").await?;
        anyhow::Ok(())
    }
    .await;
    session.close().await;
    result.unwrap();
}

/// A real measured run (softmax on native-cpu and a wgpu adapter) stored sixteen times, its
/// samples stepped up 40% from the eleventh run (commit `c10`) on: the dashboard draws the series
/// with that change point labelled, lists it, narrows by kernel, and compares two runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_draws_stored_series_and_their_change_point() {
    if !ready() {
        return;
    }
    let _one = BROWSER.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let measured = tokio::task::spawn_blocking(|| {
        accelbench(&[
            "native",
            "--quick",
            "--kernels",
            "softmax,gelu-tanh",
            "--backends",
            "cpu,wgpu",
            "--budget",
            "0.05",
            "--no-store",
            "--json",
        ])
    })
    .await
    .unwrap();
    let records: Vec<Value> =
        String::from_utf8_lossy(&measured.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let db = tmp.path().join("dash.db");
    let server = InProcess::start(db.to_str().unwrap(), root().join("dist"), root().join("static")).await.unwrap();
    let url = server.url.clone();
    tokio::task::spawn_blocking(move || {
        for i in 0..16 {
            let step = if i < 10 { 1.0 } else { 1.4 };
            let run: Vec<Value> = records
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    if r["kernel"] == "softmax" && r["timing"].is_object() {
                        let samples: Vec<f64> = serde_json::from_value::<Vec<f64>>(r["timing"]["samples_ns"].clone())
                            .unwrap()
                            .iter()
                            .map(|s| s * step)
                            .collect();
                        r["timing"]["summary"] =
                            serde_json::to_value(harness::stats::Sample::new(&samples).unwrap().summary()).unwrap();
                        r["timing"]["samples_ns"] = json!(samples);
                    }
                    r["provenance"]["commit"] = json!(format!("c{i}"));
                    r
                })
                .collect();
            let body = json!({ "id": format!("dash-{i:02}"), "source": "native", "records": run }).to_string();
            let code = ureq::post(&format!("{url}/api/v1/runs"))
                .header("content-type", "application/json")
                .send(&body)
                .map(|r| r.status().as_u16())
                .unwrap_or_else(|e| panic!("POST run {i}: {e}"));
            assert_eq!(code, 201);
        }
    })
    .await
    .unwrap();

    let session = PageSession::open(Browser::Chrome, None, Duration::from_secs(60)).await.unwrap();
    let result = async {
        session.client().set_window_size(1280, 2400).await?;
        session.client().goto(&format!("{}/dashboard", server.url)).await?;
        let wait = |css: &'static str| {
            let s = &session;
            async move {
                let start = Instant::now();
                loop {
                    if !s.client().find_all(Locator::Css(css)).await?.is_empty() {
                        return anyhow::Ok(());
                    }
                    let errors =
                        s.script("reading page errors", "return window.__accelbenchErrors || [];", vec![]).await?;
                    ensure!(errors.as_array().is_none_or(|e| e.is_empty()), "the dashboard reported errors: {errors}");
                    ensure!(start.elapsed() < Duration::from_secs(30), "the dashboard shows no `{css}` after 30 s");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        wait("#series-count").await?;
        let charts = shown(&session, "figure.series-chart svg").await?;
        // softmax has two quick cases, gelu-tanh one: three charts, a line per backend in each.
        ensure!(charts.len() == 3, "{} charts", charts.len());
        let softmax: Vec<&(String, f64)> = charts.iter().filter(|(t, _)| t.contains("c10")).collect();
        ensure!(charts.iter().all(|(_, w)| *w > 600.0), "charts too narrow: {charts:?}");
        let labelled = charts.iter().filter(|(t, _)| t.matches("% at c10").count() == 1).count();
        ensure!(labelled == 2, "the softmax charts label their change point at c10: {softmax:?}");
        for (t, _) in &charts {
            ensure!(t.contains("native-cpu") && t.contains("native-wgpu"), "a line per backend: {t}");
        }
        // The change-point table: every softmax series (two cases x its backends), at c10.
        let rows = shown(&session, "#changes tbody tr").await?;
        ensure!(rows.len() >= 2 && rows.iter().all(|(t, _)| t.contains("c10") && t.contains("softmax")), "{rows:?}");
        screenshot(&session, "dashboard").await?;

        // Narrowed to gelu-tanh: one chart, no change point.
        session
            .script(
                "typing a kernel",
                "const i = document.getElementById('f-kernel'); i.value = 'gelu-tanh'; \
                 i.dispatchEvent(new Event('change', { bubbles: true }));",
                vec![],
            )
            .await?;
        session.client().find(Locator::Css("#apply")).await?.click().await?;
        let start = Instant::now();
        loop {
            let n = shown(&session, "figure.series-chart").await?.len();
            if n == 1 && !session.client().find_all(Locator::Css("#no-changes")).await?.is_empty() {
                break;
            }
            ensure!(start.elapsed() < Duration::from_secs(20), "narrowing to gelu-tanh shows {n} charts");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // Run against run: the two newest (both after the step) compare, every softmax row a verdict.
        session.client().find(Locator::Css("#compare")).await?.click().await?;
        wait("#comparison tbody tr").await?;
        let verdicts = shown(&session, "#comparison td.verdict").await?;
        ensure!(!verdicts.is_empty(), "no comparison rows");
        for (v, _) in &verdicts {
            ensure!(["same", "faster", "slower", "inconclusive"].contains(&v.as_str()), "verdict {v}");
        }
        screenshot(&session, "dashboard-compare").await?;
        anyhow::Ok(())
    }
    .await;
    session.close().await;
    server.stop().await.ok();
    result.unwrap();
}

/// Bad input: `--html` into a directory that is not there stops the run before anything runs
/// (exit 2, naming the flag and the fix), and `report --format html` of a file that is not a
/// result file names the file and what it expected.
#[test]
fn report_paths_and_files_that_cannot_work_are_refused_up_front() {
    let out = Command::new(env!("CARGO_BIN_EXE_accelbench"))
        .args(["run", "--native", "--quick", "--kernels", "softmax", "--html", "/nonexistent/dir/r.html"])
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--html") && err.contains("/nonexistent/dir") && err.contains("create it"), "{err}");
    assert!(!err.contains("stored as run"), "nothing ran: {err}");

    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("notes.jsonl");
    std::fs::write(&bad, "{\"not\": \"a record\"}\n").unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_accelbench")).args(["report", "--format", "html"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("notes.jsonl") && err.contains("schema v1"), "{err}");
    assert!(out.stdout.is_empty(), "no half report on stdout");
}
