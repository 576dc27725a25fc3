//! The page as a person uses it, in headless Chromium and Firefox: tick kernels, click Run, and
//! look at what the page shows (progress, the results table, the charts, Download, Cancel, the
//! selects), asserting on the DOM against the records the bridge reports. Screenshots before,
//! during and after the run land in `$CARGO_TARGET_TMPDIR/page-screenshots/`.
//!
//! Needs the built page and the browsers with their drivers; without them the tests say so and
//! pass, unless ACCELBENCH_REQUIRE_BROWSERS=1 (set by `./x test`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use fantoccini::Locator;
use harness::format::fmt_ns;
use harness::schema::{Record, Status};
use runner::browser::Browser;
use runner::browser::page::PageSession;
use runner::server::InProcess;
use serde_json::{Value, json};

/// One browser at a time: two would share 2 cores and the tests would crawl.
static BROWSERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Whether the page tests can run here; panics when they must but cannot.
fn ready(browser: Browser) -> bool {
    let dist = root().join("dist/index.html");
    let has_driver = Command::new(browser.driver()).arg("--version").output().is_ok_and(|o| o.status.success());
    let missing = match (dist.exists(), has_driver, browser.binary().is_some()) {
        (true, true, true) => return true,
        (false, _, _) => format!("{} (run `trunk build --release`)", dist.display()),
        (true, false, _) => format!("{} (see `accelbench doctor`)", browser.driver()),
        (true, true, false) => format!("{} ({})", browser.name(), browser.install_hint()),
    };
    if std::env::var("ACCELBENCH_REQUIRE_BROWSERS").is_ok_and(|v| v == "1") {
        panic!("browser tests required but {missing} is missing");
    }
    eprintln!("skipping: {missing} is missing");
    false
}

struct Page {
    session: PageSession,
    shots: PathBuf,
}

impl Page {
    async fn css(&self, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
        self.session.client().find(Locator::Css(css)).await.with_context(|| format!("the page has no `{css}`"))
    }

    async fn count(&self, css: &str) -> anyhow::Result<usize> {
        Ok(self.session.client().find_all(Locator::Css(css)).await?.len())
    }

    async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.css(css).await?.click().await.with_context(|| format!("clicking `{css}`"))
    }

    async fn text(&self, css: &str) -> anyhow::Result<String> {
        Ok(self.css(css).await?.text().await?.trim().to_owned())
    }

    async fn enabled(&self, css: &str) -> anyhow::Result<bool> {
        Ok(self.css(css).await?.is_enabled().await?)
    }

    /// What a select shows: the value and text of its selected option.
    async fn shown(&self, id: &str) -> anyhow::Result<(String, String)> {
        let v = self
            .session
            .script(
                "reading a select",
                "const s = document.getElementById(arguments[0]); const o = s.selectedOptions[0]; \
                 return [s.value, o ? o.textContent : null];",
                vec![json!(id)],
            )
            .await?;
        Ok((v[0].as_str().unwrap_or_default().to_owned(), v[1].as_str().unwrap_or_default().to_owned()))
    }

    async fn screenshot(&self, name: &str) -> anyhow::Result<()> {
        let png = self.session.client().screenshot().await.context("taking a screenshot")?;
        std::fs::write(self.shots.join(format!("{}-{name}.png", self.session.browser.name())), png)?;
        Ok(())
    }

    /// The bridge's records, serialised in the page: Firefox's WebDriver re-prints numbers
    /// through its own serialiser, which can move the last digit of an f64.
    async fn records(&self) -> anyhow::Result<Vec<Record>> {
        let v = self.session.script("records()", "return JSON.stringify(window.accelbench.records());", vec![]).await?;
        let list: Vec<Value> = serde_json::from_str(v.as_str().context("records() did not serialise")?)?;
        list.into_iter()
            .enumerate()
            .map(|(i, r)| harness::schema::record_from_value(r, i).map_err(anyhow::Error::from))
            .collect()
    }

    /// Waits until the page shows `phase` in its progress panel.
    async fn wait_phase(&self, phase: &str, within: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            if self.count("#phase").await? > 0 && self.text("#phase").await? == phase {
                return Ok(());
            }
            ensure!(start.elapsed() < within, "the page did not show `{phase}` within {} s", within.as_secs());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Opens the page from an in-process companion server (as `accelbench run` does).
async fn open(browser: Browser, db: &Path) -> anyhow::Result<(InProcess, Page)> {
    let server = InProcess::start(db.to_str().unwrap(), root().join("dist"), root().join("static")).await?;
    let session = PageSession::open(browser, None, Duration::from_secs(60)).await?;
    session.client().set_window_size(1280, 2400).await.context("sizing the window")?;
    session.load(&format!("{}/", server.url), Duration::from_secs(120)).await?;
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("page-screenshots");
    std::fs::create_dir_all(&shots)?;
    let page = Page { session, shots };
    // The bridge knows the environment a re-render before the page shows it.
    let start = Instant::now();
    while page.count("#run").await? == 0 {
        ensure!(start.elapsed() < Duration::from_secs(10), "the page shows no controls 10 s after loading");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((server, page))
}

/// One person's run: four kernels ticked, Run clicked, then everything the page shows checked.
async fn a_run_as_a_person_sees_it(browser: Browser) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (server, page) = open(browser, &tmp.path().join("page.db")).await?;
    let result = async {
        // The selects show the values a run would use.
        assert_eq!(page.shown("size").await?, ("quick".into(), "quick".into()));
        assert_eq!(page.shown("dtype").await?, ("all".into(), "all".into()));
        assert_eq!(page.shown("backend").await?, ("auto".into(), "auto (WebGPU, else WASM)".into()));
        // The environment lists the browser's own adapter features, not only wgpu's mapping.
        let env = page.session.script("environment()", "return window.accelbench.environment();", vec![]).await?;
        let browser_features: Vec<String> = serde_json::from_value(env["webgpu"]["browser_features"].clone())?;
        ensure!(!browser_features.is_empty(), "environment() lists no browser features: {env}");
        let shown = page.text("#adapter-features").await?;
        for f in &browser_features {
            ensure!(shown.contains(f.as_str()), "the features list misses {f}: {shown}");
        }
        if browser == Browser::Chrome {
            ensure!(
                browser_features.iter().any(|f| f == "subgroups"),
                "Chromium offers subgroups: {browser_features:?}"
            );
        }
        // A changed select shows the new value.
        page.session
            .script(
                "choosing dtype f32",
                "const s = document.getElementById('dtype'); s.value = 'f32'; \
                 s.dispatchEvent(new Event('change', { bubbles: true }));",
                vec![],
            )
            .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(page.shown("dtype").await?.0, "f32");
        page.session
            .script(
                "choosing dtype all",
                "const s = document.getElementById('dtype'); s.value = 'all'; \
                 s.dispatchEvent(new Event('change', { bubbles: true }));",
                vec![],
            )
            .await?;
        page.screenshot("before").await?;

        page.click("#kernels-none").await?;
        // The bandwidth peak too: the other records are then shares of it.
        for k in ["peak-bandwidth", "matmul-f32", "softmax", "attention-flash", "kvcache-stream"] {
            page.click(&format!("input[type=checkbox][value='{k}']")).await?;
        }
        let ticked = page
            .session
            .script(
                "reading the ticked kernels",
                "return [...document.querySelectorAll('#controls input[type=checkbox]:checked')].map(i => i.value);",
                vec![],
            )
            .await?;
        assert_eq!(ticked, json!(["peak-bandwidth", "matmul-f32", "softmax", "attention-flash", "kvcache-stream"]));
        ensure!(page.enabled("#run").await? && !page.enabled("#cancel").await?);
        page.click("#run").await?;

        // While running: the progress panel shows the phase and advances; Cancel is the way out.
        page.wait_phase("running", Duration::from_secs(10)).await?;
        ensure!(!page.enabled("#run").await? && page.enabled("#cancel").await?, "while running, Run is disabled");
        let mut seen = Vec::new();
        let mut shot = false;
        let start = Instant::now();
        loop {
            let phase = page.text("#phase").await?;
            let count = page.text("#progress-count").await?;
            if seen.last() != Some(&count) {
                seen.push(count.clone());
            }
            if !shot && phase == "running" && seen.len() >= 2 {
                page.screenshot("during").await?;
                shot = true;
            }
            if phase != "running" {
                ensure!(phase == "done", "the run ended as {phase}");
                break;
            }
            ensure!(start.elapsed() < Duration::from_secs(600), "the run took over 10 minutes; seen {seen:?}");
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        ensure!(seen.len() >= 3, "the progress panel did not advance while running: {seen:?}");
        // Wait for the throttled re-render after `done`.
        tokio::time::sleep(Duration::from_millis(500)).await;
        page.screenshot("after").await?;

        let records = page.records().await?;
        ensure!(records.len() >= 8, "expected the 8 quick cases, got {}", records.len());
        let last = seen.last().unwrap();
        ensure!(last.contains(&format!("{0} of {0}", records.len())), "the panel ends at {last}");
        ensure!(page.enabled("#run").await? && !page.enabled("#cancel").await?, "after done, Run is enabled again");

        // One table row per record, with the record's median.
        let rows = page.session.client().find_all(Locator::Css("#results tbody tr")).await?;
        ensure!(rows.len() == records.len(), "{} rows for {} records", rows.len(), records.len());
        for (row, r) in rows.iter().zip(&records) {
            let cells: Vec<String> = {
                let mut v = Vec::new();
                for c in row.find_all(Locator::Css("td")).await? {
                    v.push(c.text().await?.trim().to_owned());
                }
                v
            };
            ensure!(cells[1] == format!("{} {}", r.kernel, r.case), "row {cells:?} for {} {}", r.kernel, r.case);
            ensure!(cells[3] == r.backend, "row {cells:?} backend");
            let median = r.timing.as_ref().map_or(String::new(), |t| fmt_ns(t.summary.median_ns));
            ensure!(cells[4] == median, "row {cells:?}: median {median}");
            ensure!(cells[7] == harness::format::fmt_peak(r), "row {cells:?}: of peak");
            // f32 kernels leave the `vs f32` column empty.
            ensure!(cells[9].is_empty(), "row {cells:?}: vs f32");
            ensure!(cells[10] == harness::format::fmt_variant(r), "row {cells:?}: variant");
            ensure!(cells[11].starts_with(r.status.label()), "row {cells:?}: status {}", r.status.label());
            // WebGPU records name their variant; softmax and matmul have a choice, so theirs was tuned.
            if r.backend.ends_with("-webgpu") && r.status == Status::Measured {
                let tuned = ["softmax", "matmul-f32"].contains(&r.kernel.as_str());
                ensure!(cells[10].ends_with(if tuned { "(tuned)" } else { "(only one)" }), "row {cells:?}: variant");
            }
        }
        // The peak ran first, so the measured records of its backend show their share of it.
        if records.iter().any(|r| r.kernel == "peak-bandwidth" && r.status == Status::Measured) {
            let shared = records.iter().filter(|r| r.family != "peak" && r.peak.is_some()).count();
            ensure!(shared >= 4, "only {shared} records show a share of peak");
        }
        // One chart mark per measured record.
        let measured = records.iter().filter(|r| r.status == Status::Measured && r.timing.is_some()).count();
        ensure!(measured >= 5, "most quick cases measure here: {measured} of {}", records.len());
        let with_throughput = records
            .iter()
            .filter(|r| r.status == Status::Measured && r.timing.is_some() && r.throughput.is_some())
            .count();
        ensure!(page.count("#throughput-chart g.mark").await? == with_throughput, "throughput marks");
        ensure!(page.count("#latency-chart g.mark").await? == measured, "latency marks");
        ensure!(page.count("svg.chart").await? >= 2, "the charts are drawn");
        // The KV-cache replay is there when the stream measured per-step phases.
        if records
            .iter()
            .any(|r| r.kernel == "kvcache-stream" && r.timing.as_ref().is_some_and(|t| !t.phases.is_empty()))
        {
            ensure!(page.count(".kv .tok").await? > 0, "the KV-cache stream is replayed");
        }

        // Download: enabled, and its file holds the same records.
        ensure!(page.enabled("#download").await?, "Download is enabled after a run");
        page.session
            .script(
                "capturing the download",
                "window.__downloaded = null; const orig = URL.createObjectURL; \
                 URL.createObjectURL = (b) => { b.text().then(t => { window.__downloaded = t; }); return orig(b); };",
                vec![],
            )
            .await?;
        page.click("#download").await?;
        let text = poll_value(&page, "return window.__downloaded;").await?;
        let downloaded = harness::schema::parse_jsonl(text.as_str().unwrap_or_default())?;
        ensure!(downloaded.len() == records.len(), "{} downloaded records for {}", downloaded.len(), records.len());
        for (d, r) in downloaded.iter().zip(&records) {
            ensure!(
                d == r,
                "the downloaded record differs from records():\n{}\n{}",
                serde_json::to_string(d)?,
                serde_json::to_string(r)?
            );
        }
        Ok(())
    }
    .await;
    page.session.close().await;
    server.stop().await?;
    result
}

async fn poll_value(page: &Page, script: &str) -> anyhow::Result<Value> {
    for _ in 0..50 {
        let v = page.session.script("polling", script, vec![]).await?;
        if !v.is_null() {
            return Ok(v);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("`{script}` stayed null for 5 s")
}

/// Cancel during a long run: the page stops, says so, keeps the records and lets you run again.
async fn cancel_stops_a_long_run(browser: Browser) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (server, page) = open(browser, &tmp.path().join("page.db")).await?;
    let result = async {
        page.click("#kernels-all").await?;
        page.click("#run").await?;
        page.wait_phase("running", Duration::from_secs(10)).await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        page.click("#cancel").await?;
        page.wait_phase("cancelled", Duration::from_secs(120)).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let note = page.text("#cancelled").await?;
        ensure!(note.starts_with("Cancelled after"), "{note}");
        let state = page.session.script("state()", "return window.accelbench.state();", vec![]).await?;
        let (done, total) = (state["done"].as_u64().unwrap_or(0), state["total"].as_u64().unwrap_or(0));
        ensure!(done < total, "cancel stopped the run early: {done} of {total}");
        ensure!(note.contains(&format!("{done} of {total}")), "{note} vs {state}");
        let rows = page.count("#results tbody tr").await?;
        ensure!(rows == page.records().await?.len(), "the table keeps the records measured so far");
        ensure!(page.enabled("#run").await? && !page.enabled("#cancel").await?, "after cancel, Run is enabled");
        Ok(())
    }
    .await;
    page.session.close().await;
    server.stop().await?;
    result
}

/// The case editor: a bad key is an inline error naming it; a good case runs with its shape.
async fn the_case_editor_runs_your_shape(browser: Browser) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (server, page) = open(browser, &tmp.path().join("page.db")).await?;
    let result = async {
        page.click("#kernels-none").await?;
        let cases = page.css("#cases").await?;
        cases.send_keys("matmul-f32:m=96,rows=3").await?;
        page.click("#run").await?; // the click also blurs the field, which commits it
        tokio::time::sleep(Duration::from_millis(300)).await;
        let error = page.text("#controls .error").await?;
        ensure!(error.contains("no parameter `rows`") && error.contains("batch (1..=65535"), "{error}");
        cases.clear().await?;
        cases.send_keys("matmul-f32:m=96,n=80,k=64").await?;
        page.click("#run").await?;
        page.wait_phase("done", Duration::from_secs(120)).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rows = page.session.client().find_all(Locator::Css("#results tbody tr")).await?;
        ensure!(rows.len() == 1, "one case, one row: {}", rows.len());
        let text = rows[0].text().await?;
        ensure!(text.contains("matmul-f32 m=96,n=80,k=64") && text.contains("measured"), "{text}");
        let records = page.records().await?;
        ensure!(records[0].params.get("m") == Some(&96) && records[0].params.get("batch") == Some(&1));
        Ok(())
    }
    .await;
    page.session.close().await;
    server.stop().await?;
    result
}

/// A run a driver starts through the bridge shows on the page like a clicked one.
async fn a_bridge_started_run_shows_on_the_page(browser: Browser) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (server, page) = open(browser, &tmp.path().join("page.db")).await?;
    let result = async {
        page.session
            .script(
                "start()",
                "return window.accelbench.start({ kernels: ['softmax'], dtypes: ['f32'], size: 'quick' });",
                vec![],
            )
            .await?;
        page.wait_phase("done", Duration::from_secs(120)).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let records = page.records().await?;
        ensure!(records.len() == 2, "softmax has two quick cases: {}", records.len());
        let labels = page.session.script("state().labels", "return window.accelbench.state().labels;", vec![]).await?;
        let want = format!("{}-webgpu", browser.name());
        ensure!(labels == json!([want]), "the state names the run's labels: {labels}");
        ensure!(records.iter().all(|r| r.backend == want), "records carry the labels the state names");
        ensure!(page.count("#results tbody tr").await? == records.len(), "one row per record");
        ensure!(page.count("#latency-chart g.mark").await? == records.len(), "one latency mark per record");
        ensure!(page.enabled("#run").await? && page.enabled("#download").await?);
        Ok(())
    }
    .await;
    page.session.close().await;
    server.stop().await?;
    result
}

/// A sweep typed into the sweep box, run on WebGPU and WASM, draws one scaling chart: a line per
/// backend with a point per swept value, in both panels (time and throughput).
async fn a_sweep_draws_its_scaling_chart(browser: Browser) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (server, page) = open(browser, &tmp.path().join("page.db")).await?;
    let result = async {
        page.click("#kernels-none").await?;
        page.session
            .script(
                "choosing both backends",
                "const s = document.getElementById('backend'); s.value = 'both'; \
                 s.dispatchEvent(new Event('change', { bubbles: true }));",
                vec![],
            )
            .await?;
        let sweeps = page.css("#sweeps").await?;
        sweeps.send_keys("softmax:cols=128..1024x2").await?;
        page.click("#run").await?;
        page.wait_phase("done", Duration::from_secs(180)).await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        let records = page.records().await?;
        let measured = records.iter().filter(|r| r.status == Status::Measured).count();
        ensure!(records.len() == 8 && measured == 8, "4 points x 2 backends, all measured: {records:#?}");
        ensure!(page.count("figure.scaling").await? == 1, "one sweep, one chart");
        let caption = page.text("figure.scaling figcaption").await?;
        ensure!(caption == "softmax over cols (rows=64)", "{caption}");
        // harness::charts draws it: a point per record in each panel (time and throughput).
        ensure!(page.count("figure.scaling svg circle").await? == 16, "a point per record and panel");
        let width = page
            .session
            .script(
                "measuring the chart",
                "return document.querySelector('figure.scaling svg').getBoundingClientRect().width;",
                vec![],
            )
            .await?;
        ensure!(width.as_f64().is_some_and(|w| w > 400.0), "the scaling chart renders {width} px wide");
        let legend = page.text("figure.scaling svg").await?;
        ensure!(
            legend.contains(&format!("{}-webgpu", browser.name()))
                && legend.contains(&format!("{}-wasm", browser.name())),
            "{legend}"
        );
        page.session.client().execute("document.getElementById('scaling-charts').scrollIntoView()", vec![]).await?;
        page.screenshot("scaling").await?;
        Ok(())
    }
    .await;
    page.session.close().await;
    server.stop().await?;
    result
}

/// Models as a person runs them: no kernel, two models ticked, short lengths typed, Run; the
/// Models panel shows a checked row per model with its figures, the rate and memory charts,
/// and the decoder's own tokens appear when replayed at their measured pace.
async fn models_show_their_figures_and_stream_their_tokens(browser: Browser) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (server, page) = open(browser, &tmp.path().join("page.db")).await?;
    let result = async {
        page.click("#kernels-none").await?;
        page.click("#models-choice input[value='gpt2-small']").await?;
        page.click("#models-choice input[value='whisper-tiny']").await?;
        page.css("#prompt").await?.send_keys("12").await?;
        page.css("#generate").await?.send_keys("5").await?;
        page.click("#run").await?;
        page.wait_phase("done", Duration::from_secs(180)).await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        let all = page.records().await?;
        let label = format!("{}-webgpu", browser.name());
        // Mode "both" (the default) also trains the decoder and skips the encoder's training.
        let (records, trained): (Vec<Record>, Vec<Record>) =
            all.into_iter().partition(|r| r.mode == harness::schema::Mode::Inference);
        ensure!(records.len() == 2, "two models, one backend: {records:#?}");
        ensure!(trained.len() == 2 && trained.iter().any(|r| r.status == Status::Measured), "{trained:#?}");
        for r in &records {
            ensure!(r.status == Status::Measured, "{} on {}: {:?}", r.kernel, r.backend, r.status);
            ensure!(r.backend == label && r.check.as_ref().is_some_and(|c| c.passed));
        }
        let rows = page.session.client().find_all(Locator::Css("#models-table tbody tr")).await?;
        ensure!(rows.len() == 2, "a row per model record: {}", rows.len());
        let gpt2 = rows[0].text().await?;
        let m = records[0].model.as_ref().unwrap();
        let decode = format!("{:.1}", m.decode_tokens_per_s.unwrap());
        ensure!(gpt2.contains("gpt2-small") && gpt2.contains("p12-g5") && gpt2.contains(&decode), "{gpt2}");
        ensure!(gpt2.contains("5/5 greedy tokens agree") || gpt2.contains("greedy tokens agree"), "{gpt2}");
        let whisper = rows[1].text().await?;
        ensure!(whisper.contains("whisper-tiny") && whisper.contains("t12") && whisper.contains("ms"), "{whisper}");
        // gpt2 has prefill and decode bars, whisper an encode bar; memory a bar each.
        ensure!(page.count("#model-rates-chart g.mark").await? == 3, "prefill + decode, encode");
        let rates = page.text("#model-rates-chart").await?;
        ensure!(rates.contains("whisper-tiny encode") && rates.contains("gpt2-small decode"), "{rates}");
        ensure!(page.count("#model-memory-chart g.mark").await? == 2);
        let mem = page.text("#model-memory-chart").await?;
        ensure!(mem.contains("MiB (w "), "{mem}");
        // One stream (the decoder's), empty until replayed, then every generated token.
        ensure!(page.count(".stream").await? == 1, "only decoders stream tokens");
        ensure!(page.count(".stream .token").await? == 0);
        page.click(".stream button.replay").await?;
        let start = Instant::now();
        let want = m.generated.len();
        ensure!(want == 6, "the prefill's token and one per decode step: {:?}", m.generated);
        // Each token fades in (opacity 0 to 1), and WebDriver's element text leaves out what
        // is not yet visible, so wait until a person would see every token, in order.
        let expected: Vec<String> = m.generated.iter().map(|t| format!("#{t}")).collect();
        loop {
            let shown = page.text(".stream .tokens").await?;
            let seen: Vec<&str> = shown.split_whitespace().collect();
            if seen == expected {
                break;
            }
            ensure!(
                start.elapsed() < Duration::from_secs(20),
                "after 20 s the stream shows {seen:?}; the record generated {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ensure!(page.count(".stream .token").await? == want, "one span per generated token");
        page.session.client().execute("document.getElementById('models').scrollIntoView()", vec![]).await?;
        page.screenshot("models").await?;
        Ok(())
    }
    .await;
    page.session.close().await;
    server.stop().await?;
    result
}

/// Training as a person runs it: no kernel, one decoder ticked, mode `training`, Run; the
/// Training panel shows a measured row with steps/s, tokens/s and a falling loss, and the loss
/// chart draws the run's curve beside the reference's.
async fn training_shows_its_steps_and_falling_loss(browser: Browser) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (server, page) = open(browser, &tmp.path().join("page.db")).await?;
    let result = async {
        page.click("#kernels-none").await?;
        page.click("#models-choice input[value='llama-3.2-1b']").await?;
        page.session
            .script(
                "choosing mode training",
                "const s = document.getElementById('mode'); s.value = 'training'; \
                 s.dispatchEvent(new Event('change', { bubbles: true }));",
                vec![],
            )
            .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        ensure!(page.shown("mode").await?.0 == "training");
        page.click("#run").await?;
        page.wait_phase("done", Duration::from_secs(240)).await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        let records = page.records().await?;
        let label = format!("{}-webgpu", browser.name());
        ensure!(records.len() == 1, "one decoder, one backend, training only: {records:#?}");
        let r = &records[0];
        ensure!(r.status == Status::Measured && r.backend == label, "{:?} on {}", r.status, r.backend);
        ensure!(r.mode == harness::schema::Mode::Training && r.case == "train-t32");
        let t = r.training.as_ref().expect("training figures");
        ensure!(t.losses.len() == 20 && t.losses[19] < 0.8 * t.losses[0], "{:?}", t.losses);
        let rows = page.session.client().find_all(Locator::Css("#training-table tbody tr")).await?;
        ensure!(rows.len() == 1, "a row per training record: {}", rows.len());
        let row = rows[0].text().await?;
        let (first, last) = (format!("{:.3}", t.losses[0]), format!("{:.3}", t.losses[19]));
        ensure!(row.contains("llama-3.2-1b") && row.contains(&format!("{first} -> {last}")), "{row}");
        ensure!(row.contains(&format!("{:.2}", t.steps_per_s)) && row.contains("f64 reference"), "{row}");
        ensure!(page.count("#loss-chart g.loss polyline").await? == 2, "the run's curve and the reference's");
        page.session.client().execute("document.getElementById('training').scrollIntoView()", vec![]).await?;
        page.screenshot("training").await?;
        Ok(())
    }
    .await;
    page.session.close().await;
    server.stop().await?;
    result
}

/// One test per browser and scenario, each waiting for the browser lock.
macro_rules! page_tests {
    ($($name:ident: $browser:ident => $scenario:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            if !ready(Browser::$browser) {
                return;
            }
            let _g = BROWSERS.lock().await;
            $scenario(Browser::$browser).await.unwrap();
        }
    )*};
}

page_tests! {
    chromium_page_shows_progress_results_charts_and_download: Chrome => a_run_as_a_person_sees_it;
    firefox_page_shows_progress_results_charts_and_download: Firefox => a_run_as_a_person_sees_it;
    chromium_cancel_stops_a_long_run_and_says_so: Chrome => cancel_stops_a_long_run;
    firefox_cancel_stops_a_long_run_and_says_so: Firefox => cancel_stops_a_long_run;
    chromium_case_editor_runs_your_shape_and_names_bad_keys: Chrome => the_case_editor_runs_your_shape;
    chromium_bridge_started_run_shows_on_the_page: Chrome => a_bridge_started_run_shows_on_the_page;
    firefox_bridge_started_run_shows_on_the_page: Firefox => a_bridge_started_run_shows_on_the_page;
    firefox_case_editor_runs_your_shape_and_names_bad_keys: Firefox => the_case_editor_runs_your_shape;
    chromium_a_sweep_draws_its_scaling_chart: Chrome => a_sweep_draws_its_scaling_chart;
    chromium_models_show_their_figures_and_stream_their_tokens: Chrome => models_show_their_figures_and_stream_their_tokens;
    firefox_models_show_their_figures_and_stream_their_tokens: Firefox => models_show_their_figures_and_stream_their_tokens;
    firefox_a_sweep_draws_its_scaling_chart: Firefox => a_sweep_draws_its_scaling_chart;
    chromium_training_shows_its_steps_and_falling_loss: Chrome => training_shows_its_steps_and_falling_loss;
    firefox_training_shows_its_steps_and_falling_loss: Firefox => training_shows_its_steps_and_falling_loss;
}
