//! `accelbench run`: the product's main job. Serves the page (in-process companion server or
//! `--server`), drives it in headless Chromium and Firefox through WebDriver, runs the same
//! kernels natively, writes every record to `--out` as it arrives, stores the whole run, and
//! prints browser against native. A crashed, hung or erroring browser becomes `failed` records
//! with the reason, the browser is restarted, and the suite goes on.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use harness::cases::Case;
use harness::catalogue::Size;
use harness::model::run::ModelCase;
use harness::schema::{
    BrowserInfo, PageBackendChoice, PageEnvironment, PagePhase, PageRunConfig, Record, RunUpload, Shard, Status,
    case_key,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::browser::Browser;
use crate::browser::endpoints::{self, Endpoint};
use crate::browser::page::PageSession;
use crate::native::NativePlan;
use crate::{Outcome, facts, report, server};

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Run the suite in this TOML file: its browsers, page backends, native backends, kernels,
    /// cases, sweeps, dtypes, size, seed and budget (the flags for those are refused alongside)
    #[arg(long, conflicts_with_all = [
        "browsers", "native", "native_backends", "kernels", "cases", "sweeps", "dtypes", "modes", "train", "quick", "full", "seed",
        "budget", "page_backends",
    ])]
    suite: Option<PathBuf>,
    /// Browsers to drive, comma-separated: chrome, firefox (empty: none)
    #[arg(long, value_delimiter = ',', default_values_t = vec!["chrome".to_owned(), "firefox".to_owned()])]
    browsers: Vec<String>,
    /// Also run natively (every wgpu adapter and native-cpu; see --native-backends)
    #[arg(long)]
    native: bool,
    /// Native backends for --native, as for `accelbench native --backends`
    #[arg(long, value_delimiter = ',', default_values_t = vec!["wgpu".to_owned(), "cpu".to_owned()])]
    native_backends: Vec<String>,
    /// Kernel ids or family names, comma-separated (default: all)
    #[arg(long, value_delimiter = ',')]
    kernels: Vec<String>,
    /// Your own case, `KERNEL:key=value,...` (repeatable), run in every browser and natively;
    /// without --kernels only these run (see `accelbench native --case`)
    #[arg(long = "case", value_name = "KERNEL:KEY=VALUE,...")]
    cases: Vec<String>,
    /// A sweep, one case per point (repeatable), as `accelbench native --sweep`
    #[arg(long = "sweep", value_name = "KERNEL:KEY=V1,V2,...")]
    sweeps: Vec<String>,
    /// Only cases of these dtypes, comma-separated: f32, f16, q8, q4
    #[arg(long, value_delimiter = ',')]
    dtypes: Vec<String>,
    /// Only cases of these modes, comma-separated: inference, training
    #[arg(long = "mode", value_delimiter = ',', conflicts_with = "train")]
    modes: Vec<String>,
    /// Only training work (backward kernels, the loss, the optimiser step): `--mode training`
    #[arg(long)]
    train: bool,
    /// Model presets to run in every browser and natively after the kernels, comma-separated,
    /// `all` or `none` (see `accelbench models`). Default: every preset in a --quick run with no
    /// kernel selection, none otherwise; with no --kernels, --case or --sweep only models run
    #[arg(long, value_delimiter = ',')]
    models: Option<Vec<String>>,
    /// Prompt tokens of every model (default 32 quick, 512 full; encoders: the input length)
    #[arg(long)]
    prompt: Option<usize>,
    /// Tokens every decoder generates one at a time (default 16 quick, 128 full)
    #[arg(long = "gen")]
    generate: Option<usize>,
    /// Precisions every model runs at, comma-separated: f32, f16, q8, q4 (default: all four in
    /// a --quick run, f32 otherwise)
    #[arg(long, value_delimiter = ',')]
    model_weights: Option<Vec<String>>,
    /// Small parameter sets (seconds on CPU adapters); the default is `full`
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// Realistic parameter sets (the default)
    #[arg(long)]
    full: bool,
    /// JSON Lines file the records are appended to as they arrive (default: results/run-<time>.jsonl)
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write the comparison as Markdown here
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Also write the HTML report here (one self-contained file: charts, tables, environments)
    #[arg(long)]
    html: Option<PathBuf>,
    /// Drive this WebDriver endpoint (a Selenium Grid, a cloud service, a driver started by
    /// hand) instead of starting local drivers, for every browser or, as `chrome=URL`, for one.
    /// Repeatable: the endpoints run side by side, each browser's cases spread over those that
    /// serve it, and every record names its endpoint. The page must be reachable from each
    /// (see --server)
    #[arg(long = "webdriver-url", value_name = "[BROWSER=]URL")]
    webdriver_urls: Vec<String>,
    /// Use this running companion server (`accelbench serve`) instead of one in-process
    #[arg(long)]
    server: Option<String>,
    /// File holding the --server's write token (`serve --write-token-file`), sent as
    /// `Authorization: Bearer` with the stored run
    #[arg(long, requires = "server")]
    write_token_file: Option<PathBuf>,
    /// The built page for the in-process server (Trunk's output)
    #[arg(long, default_value = "dist")]
    dist: PathBuf,
    /// Static assets for the in-process server
    #[arg(long = "static", default_value = "static")]
    static_dir: PathBuf,
    /// Database of the in-process server: an SQLite path or a `postgres://` URL (default: as `accelbench serve`)
    #[arg(long)]
    db: Option<String>,
    /// Seed of the random inputs
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Per kernel, per backend sampling budget in seconds (default: 0.4 quick, 5 full)
    #[arg(long)]
    budget: Option<f64>,
    /// A case making no progress for this long counts as hung: `failed`, browser restarted
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    kernel_timeout: Duration,
    /// Only native wgpu adapters whose name or backend contains this, e.g. `vulkan`
    #[arg(long)]
    adapter: Option<String>,
    /// Native wgpu on this Vulkan driver only: `swiftshader` (Chromium's), `lavapipe`, or an ICD
    /// JSON path; with `swiftshader`, native and Chrome run on the same Vulkan implementation
    #[arg(long)]
    pub icd: Option<String>,
    /// What the page runs on: `auto` (WebGPU, else the WASM CPU path), `webgpu`, `wasm`; add
    /// `webnn` for a `<browser>-webnn` record per WebNN kernel (matmul-f32, softmax, layernorm,
    /// gelu-erf): skipped naming why where the browser gives no WebNN context
    #[arg(long, value_delimiter = ',', default_values_t = vec![PageBackendChoice::Auto])]
    page_backends: Vec<PageBackendChoice>,
    /// Compare this run against a base run at the end: a JSON Lines file, a stored run id, or
    /// `latest` (the newest stored run on this machine with these measurements); exit 1 on a
    /// regression
    #[arg(long)]
    baseline: Option<String>,
    /// Threshold for --baseline, e.g. `5%`
    #[arg(long, default_value = "5%", value_parser = crate::results::parse_threshold)]
    threshold: f64,
    /// Run the whole suite (every browser and native) this many times, interleaved, each round
    /// in its own shuffled case order, so that `compare` can measure the spread between runs
    #[arg(long, default_value_t = 1)]
    rounds: u32,
    /// Fault injection for tests (`hang:<kernel>` blocks the page, `stall:<kernel>` waits forever
    /// without blocking it, `panic:<kernel>`), first browser session only
    #[arg(long, hide = true)]
    inject_fault: Option<String>,
    #[command(flatten)]
    autotune: crate::cache::AutotuneArgs,
}

/// Consecutive failed page sessions after which a browser's remaining cases are marked failed.
const MAX_RESTARTS: usize = 3;

/// Where records go as they arrive: the --out file and the progress bar.
struct Sink {
    file: std::fs::File,
    path: PathBuf,
    records: Vec<Record>,
    bar: ProgressBar,
    /// Stamped on every record: the run's id and, with several rounds, the current round.
    run_id: String,
    round: Option<u32>,
    /// The run's practical peaks per backend and adapter, learnt as the peak records arrive
    /// (first in every round and browser), each later record stamped with its share.
    peaks: harness::peak::Peaks,
}

impl Sink {
    fn emit(&mut self, mut r: Record) -> anyhow::Result<()> {
        r.provenance.run_id = Some(self.run_id.clone());
        r.provenance.round = self.round;
        self.peaks.observe(&r);
        self.peaks.annotate(&mut r);
        let line = serde_json::to_string(&r)?;
        writeln!(self.file, "{line}").with_context(|| format!("writing {}", self.path.display()))?;
        self.file.flush()?;
        self.bar.inc(1);
        self.bar.println(format!("  {:<18} {:<18} {:<24} {}", r.kernel, r.case, r.backend, report::status_brief(&r)));
        self.records.push(r);
        Ok(())
    }

    /// A warning or note for the person running: above the bar on a terminal, else plainly on
    /// stderr (a hidden bar's `println` prints nothing, which would hide it from CI logs).
    fn warn(&self, message: String) {
        if self.bar.is_hidden() {
            eprintln!("{message}");
        } else {
            self.bar.println(message);
        }
    }
}

impl RunArgs {
    /// The model ids this run names: `--models` as given (`none` for none), else every preset
    /// in a quick run with no kernel selection.
    fn chosen_models(&self) -> Vec<String> {
        match &self.models {
            Some(m) if m.iter().any(|x| x == "none") => vec![],
            Some(m) => m.clone(),
            None if self.quick && self.kernels.is_empty() && self.cases.is_empty() && self.sweeps.is_empty() => {
                vec!["all".to_owned()]
            }
            None => vec![],
        }
    }

    /// The kernels this run names: as given, or `all` when nothing is selected but models came
    /// by default (models named with --models and no kernel selection run alone).
    fn chosen_kernels(&self) -> Vec<String> {
        let nothing = self.kernels.is_empty() && self.cases.is_empty() && self.sweeps.is_empty();
        if nothing && self.models.is_none() { vec!["all".to_owned()] } else { self.kernels.clone() }
    }

    /// These arguments with a `--suite` file's selection in place of the flags it owns.
    fn with_suite(&self) -> anyhow::Result<RunArgs> {
        let Some(path) = &self.suite else { return Ok(self.clone()) };
        let s = crate::suite::load(path)?;
        Ok(RunArgs {
            browsers: s.browsers,
            native: !s.native.is_empty(),
            native_backends: if s.native.is_empty() { self.native_backends.clone() } else { s.native },
            page_backends: s.page_backends,
            kernels: s.kernels,
            cases: s.cases,
            sweeps: s.sweeps,
            dtypes: s.dtypes,
            modes: s.modes,
            train: false,
            quick: s.size == Size::Quick,
            full: s.size == Size::Full,
            seed: s.seed,
            budget: s.budget_s,
            ..self.clone()
        })
    }
}

pub fn run(args: &RunArgs) -> anyhow::Result<Outcome> {
    let args = &args.with_suite()?;
    let browsers: Vec<Browser> = args
        .browsers
        .iter()
        .filter(|b| !b.is_empty())
        .map(|b| Browser::parse(b).with_context(|| format!("unknown browser `{b}`; choose chrome and/or firefox")))
        .collect::<anyhow::Result<_>>()?;
    if browsers.is_empty() && !args.native {
        bail!("nothing to run: choose --browsers chrome,firefox and/or --native");
    }
    let lanes = endpoints::lanes(&endpoints::from_args(&args.webdriver_urls)?, &browsers)?;
    // Reports are written after the whole run: a directory that is not there must stop it now,
    // not an hour later.
    for (flag, path) in [("--markdown", &args.markdown), ("--html", &args.html)] {
        if let Some(dir) = path.as_ref().and_then(|p| p.parent()).filter(|d| !d.as_os_str().is_empty() && !d.is_dir()) {
            bail!("{flag}: the directory {} does not exist; create it or choose another path", dir.display());
        }
    }
    let models = args.chosen_models();
    // The native plans also validate kernels, models, size and budget before anything starts.
    let selection = crate::native::Selection {
        kernels: args.chosen_kernels(),
        cases: args.cases.clone(),
        sweeps: args.sweeps.clone(),
        dtypes: args.dtypes.clone(),
        modes: crate::native::modes(&args.modes, args.train),
        models: models.clone(),
    };
    let rounds = crate::native::check_rounds(args.rounds)?;
    let mut plan = NativePlan::new(
        &selection,
        args.quick,
        &args.native_backends,
        crate::native::adapter_filter(args.adapter.as_ref(), args.icd.as_ref()),
        args.seed,
        args.budget,
    )?;
    plan.autotune = crate::cache::load(&args.autotune);
    plan.cache_dir = args.autotune.dir();
    let size = plan.size;
    let chosen = harness::model::select(&models, size)
        .context("name presets listed by `accelbench models`, `all` or `none` in --models")?;
    // Models run natively on wgpu and native-cpu; other native backends get `skipped` records.
    let model_backends: Vec<String> = plan.backends.iter().filter(|b| *b == "wgpu" || *b == "cpu").cloned().collect();
    let model_weights = args.model_weights.clone().unwrap_or_else(|| {
        if args.quick { vec!["f32".into(), "f16".into(), "q8".into(), "q4".into()] } else { vec!["f32".into()] }
    });
    let model_plan = crate::model::ModelPlan::new(
        &chosen,
        &crate::native::modes(&args.modes, args.train),
        &model_weights,
        size,
        (args.prompt, args.generate),
        &model_backends,
        plan.adapter.clone(),
        None,
        args.seed,
        plan.sampling.clone(),
    )?;
    let model_plan = crate::model::ModelPlan { cache_dir: plan.cache_dir.clone(), ..model_plan };
    if args.server.is_none() && !browsers.is_empty() && !args.dist.join("index.html").exists() {
        bail!(
            "the page is not built ({} is missing): run `trunk build --release` first (./x setup installs Trunk), \
             or pass --dist DIR or --server URL",
            args.dist.join("index.html").display()
        );
    }
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!("results/run-{}.jsonl", facts::utc_now().replace([':', '-'], "").trim_end_matches('Z')))
    });
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let db = args.db.clone().unwrap_or_else(server::default_db);
    if args.baseline.as_deref() == Some("latest") && args.server.is_some() {
        bail!("--baseline latest reads the local database; with --server pass a stored run id or a file instead");
    }
    // A bad token file fails now, not after minutes of measuring.
    let token = args.write_token_file.as_deref().map(server::access::Token::from_file).transpose()?;
    // A file or stored baseline is read before minutes of measuring, so a bad one fails at once.
    let baseline = match args.baseline.as_deref() {
        Some("latest") | None => None,
        Some(b) => Some(crate::results::baseline(b, Some(&db))?),
    };
    let file = crate::results::open_append(&out)?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let run_id = format!("run-{}", facts::utc_now().replace(':', ""));
    plan.set_rounds(rounds);
    plan.run_id.clone_from(&run_id);
    // Shared by the endpoints' lanes, which run side by side on one task: each borrow is
    // short and never held across an await.
    let sink = RefCell::new(Sink {
        file,
        path: out.clone(),
        records: Vec::new(),
        bar,
        run_id: run_id.clone(),
        round: None,
        peaks: Default::default(),
    });
    let commit = facts::host_facts().commit;

    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let local = match &args.server {
        Some(_) => None,
        None => Some(rt.block_on(server::InProcess::start(&db, args.dist.clone(), args.static_dir.clone()))?),
    };
    let base = args.server.clone().or_else(|| local.as_ref().map(|l| l.url.clone())).expect("one server");
    let base = base.trim_end_matches('/').to_owned();

    let result = (|| -> anyhow::Result<()> {
        for round in 0..rounds {
            // With several rounds each runs in its own order, the same in the page (which
            // shuffles with the same seed) as here, where a crash names the case in progress.
            let shuffle = (rounds > 1).then(|| crate::native::round_seed(args.seed, round));
            sink.borrow_mut().round = (rounds > 1).then_some(round);
            let mut cases: Vec<&Case> = plan.cases.iter().collect();
            let mut model_cases: Vec<&ModelCase> = model_plan.models.iter().collect();
            let mut trainings: Vec<_> = model_plan.trainings.iter().collect();
            if let Some(seed) = shuffle {
                harness::cases::shuffle_cases(&mut cases, seed);
                harness::cases::shuffle(&mut model_cases, seed);
                harness::cases::shuffle(&mut trainings, seed);
            }
            let items: Vec<Item> = cases
                .into_iter()
                .map(Item::Kernel)
                .chain(model_cases.into_iter().map(Item::Model))
                .chain(trainings.into_iter().map(Item::Training))
                .collect();
            sink.borrow().bar.inc_length((items.len() * browsers.len()) as u64);
            // Each endpoint runs its share of each browser it serves; the endpoints side by side.
            let lane_runs = lanes.iter().map(|lane| {
                let (sink, items, plan) = (&sink, &items, &plan);
                let (models, model_weights, commit, run_id, base) = (&models, &model_weights, &commit, &run_id, &base);
                async move {
                    for work in &lane.work {
                        let mine: Vec<Item> = items
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| work.shard.is_none_or(|s| s.holds(*i)))
                            .map(|(_, item)| *item)
                            .collect();
                        if mine.is_empty() {
                            continue;
                        }
                        let driver = BrowserRun {
                            browser: work.browser,
                            endpoint: &lane.endpoint,
                            lane: lane.index,
                            shard: work.shard,
                            args,
                            plan,
                            models,
                            model_weights,
                            commit,
                            run_id,
                            base,
                            shuffle,
                        };
                        sink.borrow().bar.set_message(format!("{} (starting)", driver.who()));
                        driver.run(&mine, sink).await?;
                    }
                    anyhow::Ok(())
                }
            });
            rt.block_on(futures_util::future::try_join_all(lane_runs))?;
            let mut sink = sink.borrow_mut();
            if args.native {
                sink.bar.set_message("native");
                let backends = native_backend_count(&plan);
                let model_items = model_plan.models.len() + model_plan.trainings.len();
                sink.bar.inc_length(((plan.cases.len() + model_items) * backends) as u64);
                plan.collect_round(round, |r| sink.emit(r))?;
                model_plan.collect(|r| sink.emit(r))?;
                if let Err(e) = crate::cache::save(&args.autotune, &plan.autotune) {
                    eprintln!("warning: {e:#}");
                }
                let prov = facts::host_facts().provenance(args.seed);
                for b in plan.backends.iter().filter(|b| !model_backends.contains(b) && *b != "reference") {
                    for m in &model_plan.models {
                        let reason = format!(
                            "whole models run natively on wgpu and native-cpu; on `{b}` they are not built yet \
                             (its kernels are measured above)"
                        );
                        sink.emit(m.record(&format!("native-{b}"), Status::Skipped { reason }, prov.clone()))?;
                    }
                    for t in &model_plan.trainings {
                        let reason = format!(
                            "training steps run natively on wgpu and native-cpu; on `{b}` they are not built yet \
                             (its training kernels are measured above where it has them)"
                        );
                        sink.emit(t.record(&format!("native-{b}"), Status::Skipped { reason }, prov.clone()))?;
                    }
                }
            }
        }
        Ok(())
    })();

    let sink = sink.into_inner();
    sink.bar.finish_and_clear();
    // Store what there is, even after an error: nothing measured is lost.
    let stored = store_run(&base, token.as_ref(), &run_id, &sink.records);
    if let Some(l) = local {
        rt.block_on(l.stop())?;
    }
    eprintln!("{} records written to {}", sink.records.len(), out.display());
    match stored {
        Ok(msg) => eprintln!("{msg}"),
        Err(e) => eprintln!("warning: the run was not stored in the database: {e:#}"),
    }
    result?;

    if sink.records.iter().any(|r| r.family != "model") {
        println!("{}", report::run_comparison(&sink.records));
    }
    if sink.records.iter().any(|r| r.family == "model" && r.mode == harness::schema::Mode::Inference) {
        println!("\nModels\n{}", report::model_table(&sink.records));
    }
    if sink.records.iter().any(|r| r.family == "model" && r.mode == harness::schema::Mode::Training) {
        println!("\nTraining steps\n{}", report::training_table(&sink.records));
    }
    report::print_scaling(&sink.records);
    if let Some(md) = &args.markdown {
        std::fs::write(md, report::run_comparison_markdown(&sink.records))
            .with_context(|| format!("writing --markdown {}", md.display()))?;
    }
    if let Some(path) = &args.html {
        std::fs::write(path, crate::results::html_report(&sink.records)?)
            .with_context(|| format!("writing --html {}", path.display()))?;
    }
    let mismatches: Vec<&Record> =
        sink.records.iter().filter(|r| matches!(r.status, Status::Mismatch { .. })).collect();
    for r in &mismatches {
        eprintln!("MISMATCH {} {} on {}: {}", r.kernel, r.case, r.backend, r.status.reason().unwrap_or_default());
    }
    let baseline = match args.baseline.as_deref() {
        Some("latest") => Some(crate::results::latest_baseline(&db, &sink.records, &run_id)?),
        _ => baseline,
    };
    let mut regressions = 0;
    if let Some(base) = baseline {
        let cmp = harness::compare::compare_runs(&base, &sink.records, args.threshold);
        println!("\nAgainst the baseline");
        crate::results::print_comparison(&cmp, args.threshold, crate::results::CompareFormat::Table);
        regressions = cmp.iter().filter(|c| c.is_regression()).count();
        if let Some(md) = &args.markdown {
            let mut text = std::fs::read_to_string(md).unwrap_or_default();
            text.push_str("\n## Against the baseline\n\n");
            text.push_str(&harness::format::comparison_markdown(&cmp, args.threshold));
            std::fs::write(md, text).with_context(|| format!("writing --markdown {}", md.display()))?;
        }
    }
    Ok(if mismatches.is_empty() && regressions == 0 { Outcome::Ok } else { Outcome::Failed })
}

fn native_backend_count(plan: &NativePlan) -> usize {
    let adapters = if plan.backends.iter().any(|b| b == "wgpu") {
        let all = pollster::block_on(harness::gpu::native_adapters());
        let f = plan.adapter.as_deref().map(str::to_lowercase);
        all.iter()
            .map(harness::gpu::adapter_report)
            .filter(|r| f.as_deref().is_none_or(|f| r.name.to_lowercase().contains(f) || r.backend.contains(f)))
            .count()
    } else {
        0
    };
    adapters + plan.backends.iter().filter(|b| *b != "wgpu").count()
}

/// POSTs the run to the server. Called outside the runtime's `block_on`: the in-process server
/// keeps serving on the runtime's worker threads meanwhile.
fn store_run(
    base: &str,
    token: Option<&server::access::Token>,
    id: &str,
    records: &[Record],
) -> anyhow::Result<String> {
    if records.is_empty() {
        return Ok("nothing to store".into());
    }
    let body = RunUpload { id: id.to_owned(), source: "run".into(), records: records.to_vec() };
    let url = format!("{base}/api/v1/runs");
    let mut req = ureq::post(&url);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {}", t.as_str()));
    }
    let mut resp =
        req.config().http_status_as_error(false).build().send_json(&body).with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    if status.is_success() {
        Ok(format!("stored as run {id} at {url}"))
    } else {
        bail!("the server answered {status}: {text}")
    }
}

/// What a browser runs: a kernel case or a model, keyed alike (`id/case/backend`).
#[derive(Clone, Copy)]
enum Item<'a> {
    Kernel(&'a Case),
    Model(&'a ModelCase),
    Training(&'a harness::train::run::TrainCase),
}

impl Item<'_> {
    fn key(&self, label: &str) -> String {
        match self {
            Item::Kernel(c) => case_key(c.kernel.id, &c.params.case, label),
            Item::Model(m) => case_key(&m.id, &m.case(), label),
            Item::Training(t) => case_key(&t.id, &t.case(), label),
        }
    }
}

fn key(item: &Item, label: &str) -> String {
    item.key(label)
}

/// One browser's part of the run, with restarts.
struct BrowserRun<'a> {
    browser: Browser,
    /// Where its sessions are opened, the endpoint's place in the run, and the share of the
    /// browser's suite it runs there (`None`: all of it).
    endpoint: &'a Endpoint,
    lane: usize,
    shard: Option<Shard>,
    args: &'a RunArgs,
    plan: &'a NativePlan,
    /// The model ids the page runs after the kernels, and their weight precisions.
    models: &'a [String],
    model_weights: &'a [String],
    commit: &'a str,
    run_id: &'a str,
    base: &'a str,
    /// The round's shuffle seed, with several rounds.
    shuffle: Option<u64>,
}

impl BrowserRun<'_> {
    async fn run(&self, cases: &[Item<'_>], sink: &RefCell<Sink>) -> anyhow::Result<()> {
        let name = self.who();
        let mut done: HashSet<String> = HashSet::new();
        let mut env: Option<PageEnvironment> = None;
        // The labels the page reported for its run; until it has, derived from the environment.
        let mut labels: Vec<String> = Vec::new();
        let mut failures = 0;
        let mut attempt = 0;
        loop {
            let label = self.label(env.as_ref(), &labels);
            let remaining: Vec<_> = cases.iter().filter(|c| !done.contains(&key(c, &label))).collect();
            if remaining.is_empty() {
                return Ok(());
            }
            attempt += 1;
            let before = done.len();
            let outcome = self.attempt(attempt, &mut env, &mut labels, &mut done, sink).await;
            let label = self.label(env.as_ref(), &labels);
            if done.len() > before {
                // Progress was made: only consecutive fruitless sessions count towards giving up.
                failures = 0;
            }
            let reason = match outcome {
                Ok(()) => {
                    // The page finished; anything it did not report must not vanish.
                    let missing: Vec<_> = cases.iter().filter(|c| !done.contains(&key(c, &label))).collect();
                    for item in missing {
                        let why = "the page finished without a record for this case".into();
                        sink.borrow_mut().emit(self.failed(item, &label, env.as_ref(), why))?;
                    }
                    return Ok(());
                }
                Err(e) => format!("{e:#}"),
            };
            failures += 1;
            // The case in progress when it broke is the first one not reported.
            let current = cases.iter().find(|c| !done.contains(&key(c, &label)));
            if let Some(item) = current {
                let why = format!("{name} failed during this case (attempt {attempt}): {reason}");
                sink.borrow_mut().emit(self.failed(item, &label, env.as_ref(), why))?;
                done.insert(item.key(&label));
            }
            sink.borrow().warn(format!("warning: {name}: {reason}; restarting the browser"));
            if failures >= MAX_RESTARTS {
                for item in cases.iter().filter(|c| !done.contains(&key(c, &label))) {
                    let why = format!("not run: {name} failed {failures} times in a row; last: {reason}");
                    sink.borrow_mut().emit(self.failed(item, &label, env.as_ref(), why))?;
                }
                return Ok(());
            }
        }
    }

    /// One browser session: load, start with what is already done skipped, poll to the end.
    async fn attempt(
        &self,
        attempt: usize,
        env: &mut Option<PageEnvironment>,
        labels: &mut Vec<String>,
        done: &mut HashSet<String>,
        sink: &RefCell<Sink>,
    ) -> anyhow::Result<()> {
        let name = self.browser.name();
        let (who, webdriver) = (self.who(), self.endpoint.label());
        // Long enough for a slow sample on a CPU adapter, short enough to notice a hang.
        let command_timeout = self.args.kernel_timeout.min(Duration::from_secs(120)).max(Duration::from_secs(10));
        let mut session = PageSession::open(self.browser, Some(self.endpoint), command_timeout).await?;
        let result = async {
            let found = session.load(&format!("{}/", self.base), Duration::from_secs(120)).await?;
            if let Some(why) = &found.webgpu_missing {
                sink.borrow().warn(format!("note: {name} has no WebGPU here ({why}); its records are {name}-wasm"));
            }
            *env = Some(found);
            let config = PageRunConfig {
                kernels: self.args.chosen_kernels(),
                models: self.models.to_vec(),
                model_weights: self.model_weights.to_vec(),
                prompt: self.args.prompt,
                generate: self.args.generate,
                cases: self.args.cases.clone(),
                sweeps: self.args.sweeps.clone(),
                dtypes: self.args.dtypes.clone(),
                modes: crate::native::modes(&self.args.modes, self.args.train),
                size: self.plan.size,
                seed: self.plan.seed,
                budget_s: self.args.budget,
                commit: Some(self.commit.to_owned()),
                flags: self.browser.flags(),
                // The runner stores the whole run (all browsers and native) as one.
                post: Some(false),
                run_id: Some(format!("{}-{name}-{}-{attempt}", self.run_id, self.lane)),
                skip: done.iter().cloned().collect(),
                backends: self.args.page_backends.clone(),
                fault: self.args.inject_fault.clone().filter(|_| attempt == 1),
                shuffle: self.shuffle,
                shard: self.shard,
                autotune: Some(self.args.autotune.autotune.name().to_owned()),
                ..PageRunConfig::default()
            };
            session.start(&config).await?;
            let (mut since, mut errors_since) = (0, 0);
            let mut last_progress = (usize::MAX, String::new());
            let mut last_change = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let poll = session.poll(since, errors_since).await?;
                since += poll.records.len();
                errors_since += poll.errors.len();
                for mut r in poll.records {
                    done.insert(case_key(&r.kernel, &r.case, &r.backend));
                    if let Some(b) = &mut r.provenance.browser {
                        b.webdriver.clone_from(&webdriver);
                    }
                    sink.borrow_mut().emit(r)?;
                }
                if !poll.errors.is_empty() {
                    bail!("the page reported: {}", poll.errors.join("; "));
                }
                let st = &poll.state;
                if !st.labels.is_empty() {
                    labels.clone_from(&st.labels);
                }
                let where_ =
                    st.current.as_ref().map_or(String::new(), |c| format!("{} {} {}", c.kernel, c.case, c.backend));
                sink.borrow().bar.set_message(format!("{who}: {where_}"));
                let progress = (st.done, format!("{where_} {}", st.current.as_ref().map_or(0, |c| c.samples)));
                if progress != last_progress {
                    last_progress = progress;
                    last_change = Instant::now();
                } else if last_change.elapsed() > self.args.kernel_timeout {
                    bail!("no progress on {where_} for {} s (hung)", self.args.kernel_timeout.as_secs());
                }
                match st.phase {
                    PagePhase::Done => return Ok(()),
                    PagePhase::Error => bail!("the page stopped: {}", st.error.clone().unwrap_or_default()),
                    PagePhase::Cancelled => bail!("the run was cancelled in the page"),
                    PagePhase::Loading | PagePhase::Idle | PagePhase::Running => {}
                }
            }
        }
        .await;
        // A dead browser or driver shows up as a WebDriver error on the next command; say
        // which process died, as the reason the lost case failed.
        let result = result.map_err(|e| match session.what_died() {
            Some(died) => e.context(died),
            None => e,
        });
        session.close().await;
        result
    }

    /// The browser as messages name it: with its endpoint where there is one.
    fn who(&self) -> String {
        match self.endpoint.label() {
            Some(url) => format!("{} at {url}", self.browser.name()),
            None => self.browser.name().to_owned(),
        }
    }

    /// The label cases are tracked under: the first the page reported for its run (WebGPU when
    /// both run); before it has reported, WebGPU when asked for or found (auto), else WASM.
    fn label(&self, env: Option<&PageEnvironment>, reported: &[String]) -> String {
        if let Some(first) = reported.first() {
            return first.clone();
        }
        let asked = |b: PageBackendChoice| self.args.page_backends.contains(&b);
        let kind = if asked(PageBackendChoice::Webgpu)
            || (asked(PageBackendChoice::Auto) && env.is_none_or(|e| e.webgpu.is_some()))
        {
            "webgpu"
        } else {
            "wasm"
        };
        format!("{}-{kind}", self.browser.name())
    }

    fn failed(&self, item: &Item, label: &str, env: Option<&PageEnvironment>, reason: String) -> Record {
        let mut facts = facts::host_facts();
        facts.commit = self.commit.to_owned();
        facts.browser = Some(env.map_or_else(
            || BrowserInfo {
                name: self.browser.name().to_owned(),
                version: self.browser.version().unwrap_or_default(),
                user_agent: String::new(),
                flags: self.browser.flags(),
                cross_origin_isolated: false,
                webdriver: self.endpoint.label(),
            },
            |e| BrowserInfo { flags: self.browser.flags(), webdriver: self.endpoint.label(), ..e.browser.clone() },
        ));
        let adapter = env.and_then(|e| e.webgpu.clone());
        let prov = facts.provenance(self.plan.seed);
        let status = Status::Failed { reason };
        match item {
            Item::Kernel(Case { kernel: k, params: p }) => {
                Record { status, ..k.base_record(p, self.plan.size, label, adapter, prov) }
            }
            Item::Model(m) => Record { adapter, ..m.record(label, status, prov) },
            Item::Training(t) => Record { adapter, ..t.record(label, status, prov) },
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: super::RunArgs,
    }

    fn args(a: &[&str]) -> super::RunArgs {
        Cli::try_parse_from(std::iter::once("run").chain(a.iter().copied())).unwrap().run
    }

    /// A quick run with no selection is the whole catalogue and every model; naming models
    /// alone runs only them; naming kernels alone runs no model.
    #[test]
    fn the_default_selection_is_every_kernel_and_model() {
        let all = args(&["--quick"]);
        assert_eq!((all.chosen_kernels(), all.chosen_models()), (vec!["all".to_owned()], vec!["all".to_owned()]));
        let models = args(&["--quick", "--models", "gpt2-small"]);
        assert_eq!((models.chosen_kernels(), models.chosen_models()), (vec![], vec!["gpt2-small".to_owned()]));
        let kernels = args(&["--quick", "--kernels", "softmax"]);
        assert_eq!((kernels.chosen_kernels(), kernels.chosen_models()), (vec!["softmax".to_owned()], vec![]));
        let full = args(&[]);
        assert_eq!((full.chosen_kernels(), full.chosen_models()), (vec!["all".to_owned()], vec![]));
        let none = args(&["--quick", "--models", "none"]);
        assert_eq!(none.chosen_models(), Vec::<String>::new());
    }
}
