//! Runs the catalogue in the page: the same kernels, parameter sets, reference check and schema
//! v1 records as natively, on the browser's WebGPU (`<browser>-webgpu`) and/or the reference
//! compiled to WASM on the CPU (`<browser>-wasm`, never passed off as GPU). Writes progress and
//! records into the shared state as they happen, yielding to the event loop between samples.

use harness::cases::{self, Case};
use harness::catalogue::{Kernel, Size};
use harness::env::HostFacts;
use harness::gpu::{self, GpuDevice, Job, RunOptions};
use harness::host::{HostRun, RefRun, start_host};
use harness::measure::{SamplingConfig, complete_now};
use harness::model::reference::Reference;
use harness::model::run::{ModelCase, measure_host_model};
use harness::schema::{
    PageBackendChoice, PageEnvironment, PageProgress, PageRunConfig, Record, RunUpload, Shard, Status, WEBNN_KERNELS,
    case_key,
};
use harness::train::run::TrainCase;

use crate::js;
use crate::state::{self, Phase};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageBackend {
    WebGpu,
    Wasm,
}

/// A checked run request.
#[derive(Debug, Clone)]
pub struct SuitePlan {
    pub cases: Vec<Case>,
    /// Models after the kernels, at the run's scale and lengths.
    pub models: Vec<ModelCase>,
    /// Training runs of the chosen decoders, after the models.
    pub trainings: Vec<TrainCase>,
    pub size: Size,
    pub backends: Vec<PageBackend>,
    pub sampling: SamplingConfig,
    pub seed: u64,
    pub commit: String,
    pub post: bool,
    pub run_id: String,
    pub config: PageRunConfig,
    /// Record labels: `<browser>-webgpu`, `<browser>-wasm`, `<browser>-webnn`.
    pub webgpu_label: String,
    pub wasm_label: String,
    pub webnn_label: String,
    /// Where `webnn` was asked for, the (kernel, case) pairs that get a `<browser>-webnn`
    /// record: the first case of each kernel of [`WEBNN_KERNELS`] in the whole suite, chosen
    /// before sharding so that shards on several endpoints make one record per kernel between them.
    webnn: Vec<(&'static Kernel, String)>,
    pub autotune: harness::autotune::AutotuneMode,
}

impl SuitePlan {
    /// Checks a config against the catalogue and the environment; the error names the fix.
    pub fn new(config: &PageRunConfig, env: &PageEnvironment) -> Result<SuitePlan, String> {
        let size = config.size;
        let mut cases =
            cases::select_beside_models(&config.kernels, &config.cases, &config.sweeps, &config.models, size)
                .map_err(|e| e.to_string())?;
        if !cases.is_empty() {
            cases::keep_dtypes(&mut cases, &config.dtypes).map_err(|e| e.to_string())?;
            cases::keep_modes(&mut cases, &config.modes).map_err(|e| e.to_string())?;
        }
        let weights = harness::model::precisions(&config.model_weights).map_err(|e| e.to_string())?;
        let chosen = harness::model::select(&config.models, size).map_err(|e| e.to_string())?;
        let wants = |m: &str| config.modes.is_empty() || config.modes.iter().any(|x| x == m);
        let models: Vec<ModelCase> = chosen
            .iter()
            .filter(|_| wants("inference"))
            .flat_map(|m| weights.iter().map(|&w| ModelCase::new(m, size, config.prompt, config.generate, w)))
            .collect();
        let trainings: Vec<TrainCase> =
            chosen.iter().filter(|_| wants("training")).map(|m| TrainCase::new(m, size)).collect();
        if cases.is_empty() && models.is_empty() && trainings.is_empty() {
            return Err("nothing to run: choose kernels, cases, sweeps or models".into());
        }
        let (mut cases, mut models, mut trainings) = (cases, models, trainings);
        if let Some(seed) = config.shuffle {
            cases::shuffle_cases(&mut cases, seed);
            cases::shuffle(&mut models, seed);
            cases::shuffle(&mut trainings, seed);
        }
        let mut webnn: Vec<(&'static Kernel, String)> = Vec::new();
        if config.backends.contains(&PageBackendChoice::Webnn) {
            for c in &cases {
                if WEBNN_KERNELS.contains(&c.kernel.id) && !webnn.iter().any(|(k, _)| std::ptr::eq(*k, c.kernel)) {
                    webnn.push((c.kernel, c.params.case.clone()));
                }
            }
        }
        if let Some(shard) = config.shard {
            // Positions run over cases, then models, then trainings: the order the driver
            // tracks the suite in, so it knows which shard a lost case belonged to.
            let shard = shard.check()?;
            let mut position = 0;
            keep_shard(&mut cases, shard, &mut position);
            keep_shard(&mut models, shard, &mut position);
            keep_shard(&mut trainings, shard, &mut position);
        }
        let mut backends = Vec::new();
        for b in &config.backends {
            let chosen = match b {
                PageBackendChoice::Webgpu => PageBackend::WebGpu,
                PageBackendChoice::Wasm => PageBackend::Wasm,
                PageBackendChoice::Auto if env.webgpu.is_some() => PageBackend::WebGpu,
                PageBackendChoice::Auto => PageBackend::Wasm,
                // Not a backend cases run on: its records are made beside them (`webnn_cases`).
                PageBackendChoice::Webnn => continue,
            };
            if !backends.contains(&chosen) {
                backends.push(chosen);
            }
        }
        if backends.is_empty() {
            return Err("choose at least one backend: `auto`, `webgpu` or `wasm` (`webnn` goes beside one)".into());
        }
        let mut sampling = if size == Size::Quick { SamplingConfig::quick() } else { SamplingConfig::full() };
        if let Some(b) = config.budget_s {
            if !(b.is_finite() && b > 0.0) {
                return Err(format!("budget_s must be a positive number of seconds, got {b}"));
            }
            sampling.time_budget_ns = b * 1e9;
        }
        if let Some(n) = config.min_samples {
            if n < 2 {
                return Err(format!("min_samples must be at least 2 (a median needs them), got {n}"));
            }
            sampling.min_samples = n;
            sampling.max_samples = sampling.max_samples.max(n);
        }
        let autotune = match config.autotune.as_deref() {
            None => harness::autotune::AutotuneMode::default(),
            Some(m) => harness::autotune::AutotuneMode::parse(m).ok_or_else(|| {
                format!(
                    "autotune {m:?} is not a mode; choose from {}",
                    harness::autotune::AutotuneMode::NAMES.join(", ")
                )
            })?,
        };
        let run_id = match &config.run_id {
            Some(id) if valid_run_id(id) => id.clone(),
            Some(id) => return Err(format!("run_id {id:?} must be 1-128 letters, digits or - _ . :")),
            None => format!("{}-{}", env.browser.name, js_sys::Date::now() as u64),
        };
        Ok(SuitePlan {
            cases,
            models,
            trainings,
            size,
            backends,
            sampling,
            seed: config.seed,
            commit: config.commit.clone().unwrap_or_else(|| env.commit.clone()),
            post: config.post.unwrap_or(env.server),
            run_id,
            config: config.clone(),
            webgpu_label: format!("{}-webgpu", env.browser.name),
            wasm_label: format!("{}-wasm", env.browser.name),
            webnn_label: format!("{}-webnn", env.browser.name),
            webnn,
            autotune,
        })
    }

    pub fn label(&self, b: PageBackend) -> &str {
        match b {
            PageBackend::WebGpu => &self.webgpu_label,
            PageBackend::Wasm => &self.wasm_label,
        }
    }

    /// The (kernel, case) pairs that get a `<browser>-webnn` record here: each WebNN kernel's
    /// first case in the suite, where that case is in this shard, less those already done.
    pub fn webnn_cases(&self) -> Vec<(&'static Kernel, String)> {
        // Catalogue entries are statics: the same kernel is the same address.
        let here =
            |k: &Kernel, case: &str| self.cases.iter().any(|c| std::ptr::eq(c.kernel, k) && c.params.case == case);
        self.webnn
            .iter()
            .filter(|(k, case)| here(k, case) && !self.config.skip.contains(&case_key(k.id, case, &self.webnn_label)))
            .cloned()
            .collect()
    }

    fn skipped(&self, kernel: &str, case: &str, b: PageBackend) -> bool {
        let key = case_key(kernel, case, self.label(b));
        self.config.skip.contains(&key)
    }

    /// Cases in the run: one per case or model and backend, less those to skip.
    pub fn total(&self) -> usize {
        let count = |id: &str, case: &str| self.backends.iter().filter(|&&b| !self.skipped(id, case, b)).count();
        let kernels: usize = self.cases.iter().map(|c| count(c.kernel.id, &c.params.case)).sum();
        kernels
            + self.webnn_cases().len()
            + self.models.iter().map(|m| count(&m.id, &m.case())).sum::<usize>()
            + self.trainings.iter().map(|t| count(&t.id, &t.case())).sum::<usize>()
    }
}

/// The `<browser>-webnn` record of one case: measured through `MLGraphBuilder` on the context the
/// environment found, or skipped saying why there is none (or what WebNN refused).
async fn webnn_record(
    plan: &SuitePlan,
    env: &PageEnvironment,
    facts: &HostFacts,
    kernel: &'static harness::Kernel,
    params: &harness::catalogue::Params,
    inputs: &harness::kernels::Inputs,
    expected: &[f32],
) -> Record {
    let label = &plan.webnn_label;
    let mut record = kernel.base_record(params, plan.size, label, None, facts.provenance(plan.seed));
    // The graph is WebNN's, not one of our shaders.
    record.shader = harness::schema::ShaderRef {
        file: format!("webnn:{}", kernel.family.name()),
        hash: String::new(),
        entry_points: vec![],
    };
    let Some(device) = &env.webnn.context else {
        let why = env.webnn.missing.as_deref().unwrap_or("not detected");
        return Record { status: Status::Skipped { reason: format!("no WebNN: {why}") }, ..record };
    };
    record.adapter = Some(crate::webnn::adapter(device));
    let case_start = js::now_ms();
    set_progress(kernel.id, &params.case, label, 0, case_start);
    let timed = match crate::webnn::prepare(device, kernel, params, inputs, env.host_clock_resolution_ns).await {
        Ok(t) => t,
        Err(e) => {
            let reason = format!("WebNN gave a `{device}` context but refused the graph: {e}");
            return Record { status: Status::Skipped { reason }, ..record };
        }
    };
    let started =
        harness::measure::Measurement::start(timed, record, Some(expected), None, kernel.tolerance, &plan.sampling)
            .await;
    let mut m = match started {
        Ok(m) => m,
        Err(record) => return *record,
    };
    while !m.step().await {
        set_progress(kernel.id, &params.case, label, m.samples_taken(), case_start);
        js::yield_now().await;
        if cancelled() {
            m.cancel();
        }
    }
    m.finish()
}

/// Keeps the items of `shard`, numbering them on from `position`.
fn keep_shard<T>(items: &mut Vec<T>, shard: Shard, position: &mut usize) {
    items.retain(|_| {
        *position += 1;
        shard.holds(*position - 1)
    });
}

fn valid_run_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
}

fn set_progress(kernel: &str, case: &str, backend: &str, samples: usize, case_start: f64) {
    let p = PageProgress {
        kernel: kernel.to_owned(),
        case: case.to_owned(),
        backend: backend.to_owned(),
        samples,
        elapsed_ms: js::now_ms() - case_start,
    };
    state::update(|s| s.current = Some(p));
}

fn cancelled() -> bool {
    state::read(|s| s.cancel_requested)
}

/// Checks `config`, marks the run as started (synchronously, so a driver polling `state()` right
/// after `start()` sees it running) and runs it in the background. Returns the run id.
pub fn start(config: &PageRunConfig) -> Result<String, String> {
    let (phase, env) = state::read(|s| (s.phase(), s.env.clone()));
    let env = match (phase, env) {
        (Phase::Loading, _) | (_, None) => {
            return Err("the page is still detecting its environment; wait until state().phase is `idle`".into());
        }
        (Phase::Running, _) => return Err("a run is in progress; cancel() it or wait until it ends".into()),
        (_, Some(env)) => env,
    };
    let plan = SuitePlan::new(config, &env)?;
    let id = plan.run_id.clone();
    state::update(|s| {
        s.phase = Some(Phase::Running);
        s.config = Some(plan.config.clone());
        s.run_id = Some(plan.run_id.clone());
        s.records.clear();
        s.done = 0;
        s.total = plan.total();
        s.labels = plan.backends.iter().map(|&b| plan.label(b).to_owned()).collect();
        s.current = None;
        s.started_ms = js::now_ms();
        s.ended_ms = None;
        s.error = None;
        s.posted = None;
        s.cancel_requested = false;
    });
    wasm_bindgen_futures::spawn_local(run(plan, env));
    Ok(id)
}

/// Runs a started plan to the end (or until cancelled), then posts the records when asked.
async fn run(plan: SuitePlan, env: PageEnvironment) {
    let adapter = state::read(|s| s.adapter.clone());
    let mut browser = env.browser.clone();
    browser.flags.extend(plan.config.flags.iter().cloned());
    let nav = js::window().navigator();
    let facts = HostFacts {
        commit: plan.commit.clone(),
        date: String::from(js_sys::Date::new_0().to_iso_string()),
        cpu: format!("{} logical cores (navigator.hardwareConcurrency)", nav.hardware_concurrency()),
        os: nav.platform().unwrap_or_default(),
        browser: Some(browser),
    };
    let (webgpu_label, wasm_label) = (plan.webgpu_label.clone(), plan.wasm_label.clone());

    let mut device: Result<GpuDevice, String> = Err(env.webgpu_missing.clone().unwrap_or_default());
    if plan.backends.contains(&PageBackend::WebGpu) {
        device = open_device(adapter.as_ref(), &env).await;
    }

    // The choices this browser made before (local storage outlives the page), shared by every
    // case of the run.
    let autotune = harness::autotune::AutotuneOptions {
        mode: plan.autotune,
        cache: harness::autotune::AutotuneCache::new(load_autotune()),
    };
    // The peak cases come first; each later record is stamped with its share of them.
    let mut peaks = harness::peak::Peaks::default();
    let webnn_cases = plan.webnn_cases();
    for Case { kernel, params } in &plan.cases {
        let kernel = *kernel;

        if cancelled() {
            break;
        }
        let webnn_here = webnn_cases.iter().any(|(k, c)| std::ptr::eq(*k, kernel) && *c == params.case);
        if !webnn_here && plan.backends.iter().all(|&b| plan.skipped(kernel.id, &params.case, b)) {
            continue;
        }
        inject_fault(plan.config.fault.as_deref(), kernel.id).await;
        let case_start = js::now_ms();
        set_progress(kernel.id, &params.case, "reference", 0, case_start);
        js::yield_now().await;
        let inputs = match kernel.imp.inputs(params, plan.seed) {
            Ok(i) => i,
            Err(e) => {
                finish(&plan, &env, format!("{} / {} is invalid: {e}", kernel.id, params.case));
                return;
            }
        };
        // The ground truth, computed here in WASM on the same inputs.
        let expected = kernel.imp.reference(params, &inputs);
        if webnn_here {
            let r = webnn_record(&plan, &env, &facts, kernel, params, &inputs, &expected).await;
            state::update(|s| {
                s.records.push(r);
                s.done += 1;
            });
        }
        for &backend in &plan.backends {
            if plan.skipped(kernel.id, &params.case, backend) {
                continue;
            }
            let case_start = js::now_ms();
            let record = match backend {
                PageBackend::WebGpu => {
                    let opts = RunOptions {
                        backend: webgpu_label.clone(),
                        size: plan.size,
                        seed: plan.seed,
                        sampling: plan.sampling.clone(),
                        use_timestamps: true,
                        host_resolution_ns: env.host_clock_resolution_ns,
                        facts: facts.clone(),
                        autotune: autotune.clone(),
                    };
                    match &device {
                        Ok(dev) => {
                            set_progress(kernel.id, &params.case, &webgpu_label, 0, case_start);
                            let f32_result = kernel.imp.f32_result(params, &inputs, plan.seed);
                            let job = Job {
                                kernel,
                                params,
                                inputs: &inputs,
                                expected: &expected,
                                f32_result: f32_result.as_deref(),
                                variant: None,
                            };
                            let mut on_sample = |_: usize, n: usize| {
                                set_progress(kernel.id, &params.case, &webgpu_label, n, case_start);
                            };
                            let r = gpu::run_observed(dev, &[job], &opts, &mut on_sample, &cancelled).await.pop();
                            r.expect("one record per job")
                        }
                        Err(reason) => {
                            let mut r =
                                kernel.base_record(params, plan.size, &webgpu_label, None, facts.provenance(plan.seed));
                            r.status = Status::Skipped { reason: format!("no WebGPU device: {reason}") };
                            r
                        }
                    }
                }
                PageBackend::Wasm => {
                    let run = HostRun {
                        backend: &wasm_label,
                        adapter: None,
                        size: plan.size,
                        seed: plan.seed,
                        sampling: &plan.sampling,
                        facts: &facts,
                        resolution_ns: env.host_clock_resolution_ns,
                    };
                    let mut prepared = RefRun { kernel, params, inputs: &inputs, out: vec![] };
                    match kernel.reference_unmeasurable().map_or_else(
                        || start_host(&mut prepared, kernel, params, None, None, &run),
                        |why| Err(Box::new(run.skipped(kernel, params, why.into()))),
                    ) {
                        Ok(mut m) => loop {
                            complete_now(m.step());
                            set_progress(kernel.id, &params.case, &wasm_label, m.samples_taken(), case_start);
                            js::yield_now().await;
                            if cancelled() {
                                m.cancel();
                            }
                            if m.is_done() {
                                break m.finish();
                            }
                        },
                        Err(record) => *record,
                    }
                }
            };
            let lost = backend == PageBackend::WebGpu && matches!(record.status, Status::Failed { .. });
            let mut record = record;
            peaks.observe(&record);
            peaks.annotate(&mut record);
            state::update(|s| {
                s.records.push(record);
                s.done += 1;
            });
            if lost {
                // A failure may have lost the device; later kernels get a fresh one.
                device = open_device(adapter.as_ref(), &env).await;
            }
        }
    }
    if autotune.cache.changed() {
        save_autotune(&autotune.cache.table());
    }
    for m in &plan.models {
        if cancelled() {
            break;
        }
        device = run_model(&plan, &env, &facts, m, device, adapter.as_ref()).await;
    }
    for t in &plan.trainings {
        if cancelled() {
            break;
        }
        device = run_training(&plan, &env, &facts, t, device, adapter.as_ref()).await;
    }
    let was_cancelled = cancelled();
    state::update(|s| {
        s.current = None;
        s.ended_ms = Some(js::now_ms());
        s.phase = Some(if was_cancelled { Phase::Cancelled } else { Phase::Done });
    });
    if plan.post && !was_cancelled {
        post(&plan).await;
    }
}

/// Runs one model on the plan's backends: the f64 reference here in WASM first (the ground
/// truth, at the quick scale), then WebGPU through the same lowering as native wgpu, and/or the
/// reference itself timed as the WASM path. Returns the device to use next (a fresh one after
/// a failure, which may have lost it).
async fn run_model(
    plan: &SuitePlan,
    env: &PageEnvironment,
    facts: &HostFacts,
    m: &ModelCase,
    device: Result<GpuDevice, String>,
    adapter: Option<&wgpu::Adapter>,
) -> Result<GpuDevice, String> {
    let case = m.case();
    let backends: Vec<PageBackend> =
        plan.backends.iter().copied().filter(|&b| !plan.skipped(&m.id, &case, b)).collect();
    let push = |r: Record| {
        state::update(|s| {
            s.records.push(r);
            s.done += 1;
        })
    };
    let prov = || facts.provenance(plan.seed);
    let skip_all = |reason: String| {
        for &b in &backends {
            push(m.record(plan.label(b), Status::Skipped { reason: reason.clone() }, prov()));
        }
    };
    if backends.is_empty() {
        return device;
    }
    if plan.size == Size::Full {
        skip_all(
            "a full-scale model is checked against native-cpu's f32 run, which the page does not have (and its \
             weights may not fit WASM's 4 GiB): run it natively with `accelbench model --full`, or choose quick"
                .into(),
        );
        return device;
    }
    let case_start = js::now_ms();
    set_progress(&m.id, &case, "reference", 0, case_start);
    js::yield_now().await;
    let prepared = match m.prepare(&Reference, plan.seed) {
        Ok(p) => p,
        Err(e) => {
            skip_all(e.to_string());
            return device;
        }
    };
    let job = prepared.job(&m.id, m.scale, "f64 reference");
    let mut device = device;
    for &backend in &backends {
        let label = plan.label(backend).to_owned();
        set_progress(&m.id, &case, &label, 0, js::now_ms());
        js::yield_now().await;
        let record = match (backend, &device) {
            (PageBackend::WebGpu, Ok(dev)) => {
                let opts = RunOptions {
                    backend: label.clone(),
                    size: plan.size,
                    seed: plan.seed,
                    sampling: plan.sampling.clone(),
                    use_timestamps: true,
                    host_resolution_ns: env.host_clock_resolution_ns,
                    facts: facts.clone(),
                    autotune: harness::autotune::AutotuneOptions::default(),
                };
                gpu::run_model(dev, &job, &opts).await
            }
            (PageBackend::WebGpu, Err(reason)) => {
                m.record(&label, Status::Skipped { reason: format!("no WebGPU device: {reason}") }, prov())
            }
            (PageBackend::Wasm, _) => {
                let run = HostRun {
                    backend: &label,
                    adapter: None,
                    size: plan.size,
                    seed: plan.seed,
                    sampling: &plan.sampling,
                    facts,
                    resolution_ns: env.host_clock_resolution_ns,
                };
                measure_host_model(&Reference, &job, &run)
            }
        };
        let lost = backend == PageBackend::WebGpu && matches!(record.status, Status::Failed { .. });
        push(record);
        if lost {
            device = open_device(adapter, env).await;
        }
    }
    device
}

/// Trains one decoder on the plan's backends: the f64 reference's loss curve here in WASM first,
/// then the same lowered step on WebGPU as natively. The WASM path has no training step (the
/// reference is the ground truth, not a contender), so its record says so.
async fn run_training(
    plan: &SuitePlan,
    env: &PageEnvironment,
    facts: &HostFacts,
    t: &TrainCase,
    device: Result<GpuDevice, String>,
    adapter: Option<&wgpu::Adapter>,
) -> Result<GpuDevice, String> {
    let case = t.case();
    let backends: Vec<PageBackend> =
        plan.backends.iter().copied().filter(|&b| !plan.skipped(&t.id, &case, b)).collect();
    let push = |r: Record| {
        state::update(|s| {
            s.records.push(r);
            s.done += 1;
        })
    };
    let prov = || facts.provenance(plan.seed);
    let skip = |b: PageBackend, reason: String| push(t.record(plan.label(b), Status::Skipped { reason }, prov()));
    if backends.is_empty() {
        return device;
    }
    let runs_here = backends.contains(&PageBackend::WebGpu) && t.graph.is_ok() && plan.size == Size::Quick;
    let prepared = if runs_here {
        set_progress(&t.id, &case, "reference", 0, js::now_ms());
        js::yield_now().await;
        Some(t.prepare(plan.seed))
    } else {
        None
    };
    let mut device = device;
    for &backend in &backends {
        let label = plan.label(backend).to_owned();
        set_progress(&t.id, &case, &label, 0, js::now_ms());
        js::yield_now().await;
        let record = match (backend, &device, &prepared) {
            (_, _, _) if t.graph.is_err() => t.record(&label, Status::Measured, prov()),
            (_, _, _) if plan.size == Size::Full => t.record(
                &label,
                Status::Skipped {
                    reason: "a full-scale training step's f64 reference would take minutes in the page: train it \
                             natively with `accelbench model --full --train`, or choose quick"
                        .into(),
                },
                prov(),
            ),
            (PageBackend::Wasm, _, _) => {
                skip(
                    backend,
                    "the WASM path has no training step (the f64 reference computed here is the ground truth the \
                     WebGPU run is checked against)"
                        .into(),
                );
                continue;
            }
            (PageBackend::WebGpu, Err(reason), _) => {
                t.record(&label, Status::Skipped { reason: format!("no WebGPU device: {reason}") }, prov())
            }
            (PageBackend::WebGpu, Ok(_), Some(Err(e))) => {
                t.record(&label, Status::Skipped { reason: e.to_string() }, prov())
            }
            (PageBackend::WebGpu, Ok(dev), Some(Ok(prep))) => {
                let opts = RunOptions {
                    backend: label.clone(),
                    size: plan.size,
                    seed: plan.seed,
                    sampling: plan.sampling.clone(),
                    use_timestamps: false,
                    host_resolution_ns: env.host_clock_resolution_ns,
                    facts: facts.clone(),
                    autotune: harness::autotune::AutotuneOptions::default(),
                };
                gpu::run_training(dev, t, prep, &opts).await
            }
            (PageBackend::WebGpu, Ok(_), None) => unreachable!("prepared whenever WebGPU runs it"),
        };
        let lost = backend == PageBackend::WebGpu && matches!(record.status, Status::Failed { .. });
        push(record);
        if lost {
            device = open_device(adapter, env).await;
        }
    }
    device
}

/// The runner's tests check that a hung or crashed page costs one `failed` case, not the run.
/// Where the page keeps its autotune choices: per origin, across sessions of one profile.
const AUTOTUNE_KEY: &str = "accelbench-autotune";

/// The stored choices; none where storage is off (private modes) or the entry does not parse
/// (a newer or corrupted one: tuning again is always safe).
fn load_autotune() -> harness::schema::AutotuneTable {
    js::window()
        .local_storage()
        .ok()
        .flatten()
        .and_then(|s| s.get_item(AUTOTUNE_KEY).ok().flatten())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

fn save_autotune(table: &harness::schema::AutotuneTable) {
    let stored = js::window().local_storage().ok().flatten().zip(serde_json::to_string(table).ok());
    if let Some((storage, text)) = stored {
        // Full storage only costs the next run a tuning pass.
        let _ = storage.set_item(AUTOTUNE_KEY, &text);
    }
}

async fn inject_fault(fault: Option<&str>, kernel: &str) {
    match fault.and_then(|f| f.split_once(':')) {
        Some(("hang", k)) if k == kernel => {
            let start = js::now_ms();
            // Blocks the main thread like a runaway kernel; the hour bound keeps it finite.
            while js::now_ms() - start < 3.6e6 {
                std::hint::spin_loop();
            }
        }
        Some(("stall", k)) if k == kernel => {
            // Waits without blocking, like a queue whose work never completes: the page still
            // answers polls (so the records before it are collected) but makes no progress.
            let start = js::now_ms();
            while js::now_ms() - start < 3.6e6 {
                js::sleep_ms(1000).await;
            }
        }
        Some(("panic", k)) if k == kernel => panic!("injected fault: panic at {kernel}"),
        _ => {}
    }
}

async fn open_device(adapter: Option<&wgpu::Adapter>, env: &PageEnvironment) -> Result<GpuDevice, String> {
    match adapter {
        Some(a) => match GpuDevice::open(a).await {
            Ok(mut dev) => {
                // Keep the browser's adapter strings (vendor, architecture) found on load.
                if let Some(report) = &env.webgpu {
                    dev.report = report.clone();
                }
                Ok(dev)
            }
            Err(e) => Err(e.to_string()),
        },
        None => Err(env.webgpu_missing.clone().unwrap_or_else(|| "no WebGPU adapter".into())),
    }
}

fn finish(plan: &SuitePlan, _env: &PageEnvironment, error: String) {
    web_sys::console::error_1(&format!("run {}: {error}", plan.run_id).into());
    state::update(|s| {
        s.current = None;
        s.ended_ms = Some(js::now_ms());
        s.phase = Some(Phase::Error);
        s.error = Some(error);
    });
}

/// Stores the run on the companion server; the records stay in the page either way.
async fn post(plan: &SuitePlan) {
    let records: Vec<Record> = state::read(|s| s.records.clone());
    let upload = RunUpload { id: plan.run_id.clone(), source: "browser".into(), records };
    let body = serde_json::to_string(&upload).expect("records serialise");
    let posted = match js::fetch_text("POST", "/api/v1/runs", Some(&body)).await {
        Ok((200 | 201, _)) => true,
        Ok((code, text)) => {
            web_sys::console::warn_1(&format!("the server did not store the run (HTTP {code}): {text}").into());
            false
        }
        Err(e) => {
            web_sys::console::warn_1(&format!("posting the run failed: {e}").into());
            false
        }
    };
    state::update(|s| s.posted = Some(posted));
}
