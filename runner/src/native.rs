//! `accelbench native`: runs the selected kernels on the native backends (every wgpu adapter,
//! native-cpu, CUDA/ROCm/MPS where requested) and times the CPU reference itself
//! (`native-reference`), checking every output against the reference on fresh random inputs
//! before timing it.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use harness::cases::{self, Case};
use harness::catalogue::Size;
use harness::gpu::{self, GpuDevice, RunOptions};
use harness::measure::SamplingConfig;
use harness::schema::{BackendStatus, Record, Status};
use web_time::Instant;

use harness::host::{HostRun, RefRun, measure_host};

use crate::backends::{self, Backend, Probe};
use crate::{Outcome, facts, report};

#[derive(clap::Args, Debug, Clone)]
pub struct NativeArgs {
    /// Run the suite in this TOML file: its kernels, cases, sweeps, dtypes, size, seed, budget
    /// and native backends (the flags for those are refused alongside; see README, Suites)
    #[arg(long, conflicts_with_all = ["quick", "full", "kernels", "cases", "sweeps", "dtypes", "modes", "train", "seed", "budget", "backends"])]
    suite: Option<PathBuf>,
    /// Small parameter sets (seconds on CPU adapters); the default is `full`
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// Realistic parameter sets for real GPUs (the default)
    #[arg(long)]
    full: bool,
    /// Kernel ids or family names, comma-separated (see `accelbench kernels`)
    #[arg(long, value_delimiter = ',')]
    kernels: Vec<String>,
    /// Your own case, `KERNEL:key=value,...` (repeatable), e.g. `matmul-f32:m=4096,n=11008,k=4096`;
    /// unset keys come from the kernel's first parameter set. Without --kernels only these run
    #[arg(long = "case", value_name = "KERNEL:KEY=VALUE,...")]
    cases: Vec<String>,
    /// A sweep, one case per point (repeatable): `KERNEL:key=v1,v2,...`, `key=LO..HIxFACTOR` or
    /// `key=LO..HI+STEP`, e.g. `matmul-f32:batch=1..16x2` or `attention-flash:seq_len=128..1024x2`
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
    /// Backends to run, comma-separated: `wgpu` (every native adapter), `cpu` (native-cpu),
    /// `reference` (the CPU reference, timed), `openvino`, `cuda`, `rocm`, `mps`
    #[arg(long, value_delimiter = ',', default_values_t = vec!["wgpu".to_owned(), "cpu".to_owned(), "reference".to_owned()])]
    backends: Vec<String>,
    /// Only wgpu adapters whose name or backend contains this (case-insensitive), e.g. `vulkan`
    #[arg(long)]
    adapter: Option<String>,
    /// Print one JSON record per line on stdout instead of the table
    #[arg(long)]
    json: bool,
    /// Also append every record as JSON Lines to this file, as it is produced
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed of the random inputs
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Time with host fences even where the adapter has timestamp queries
    #[arg(long)]
    no_timestamps: bool,
    /// Per kernel, per backend sampling budget in seconds (default: 0.4 quick, 5 full)
    #[arg(long)]
    budget: Option<f64>,
    /// Compare this run against a base run at the end: a JSON Lines file, a stored run id, or
    /// `latest` (the newest stored run on this machine with these measurements); exit 1 on a
    /// regression
    #[arg(long)]
    baseline: Option<String>,
    /// Database the run is stored in: an SQLite path or a `postgres://` URL (default: as `accelbench serve`)
    #[arg(long)]
    db: Option<String>,
    /// Do not store the run in the database
    #[arg(long, conflicts_with = "db")]
    no_store: bool,
    /// Native wgpu on this Vulkan driver only: `swiftshader` (Chromium's), `lavapipe`, or an ICD
    /// JSON path; with `swiftshader`, native and Chrome run on the same Vulkan implementation
    #[arg(long)]
    pub icd: Option<String>,
    /// Run the whole suite this many times, each round in its own shuffled order, so that
    /// `compare` can measure the spread between runs (5 or more for verdicts at a few percent)
    #[arg(long, default_value_t = 1)]
    rounds: u32,
    /// Threshold for --baseline, e.g. `5%`
    #[arg(long, default_value = "5%", value_parser = crate::results::parse_threshold)]
    threshold: f64,
    #[command(flatten)]
    autotune: crate::cache::AutotuneArgs,
}

/// What to measure, as the user wrote it: kernels or families, `--case`s and `--sweep`s.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub kernels: Vec<String>,
    pub cases: Vec<String>,
    pub sweeps: Vec<String>,
    /// Only these dtypes (`f32`, `f16`); empty: all.
    pub dtypes: Vec<String>,
    /// Only these modes (`inference`, `training`); empty: both.
    pub modes: Vec<String>,
    /// Models run beside the kernels (`accelbench run --models`); models alone select no kernel.
    pub models: Vec<String>,
}

impl Selection {
    pub fn cases(&self, size: Size) -> anyhow::Result<Vec<Case>> {
        let mut cases = cases::select_beside_models(&self.kernels, &self.cases, &self.sweeps, &self.models, size)
            .context(
                "choose kernels with --kernels, or write cases as --case KERNEL:key=value,... (see `accelbench kernels`)",
            )?;
        if !cases.is_empty() {
            cases::keep_dtypes(&mut cases, &self.dtypes)?;
            cases::keep_modes(&mut cases, &self.modes)?;
        }
        Ok(cases)
    }
}

/// `--mode`, or `training` alone for `--train`.
pub fn modes(modes: &[String], train: bool) -> Vec<String> {
    if train { vec!["training".to_owned()] } else { modes.to_vec() }
}

impl NativeArgs {
    /// These arguments with a `--suite` file's selection in place of the flags it owns.
    fn with_suite(&self) -> anyhow::Result<NativeArgs> {
        let Some(path) = &self.suite else { return Ok(self.clone()) };
        let s = crate::suite::load(path)?;
        if s.native.is_empty() {
            bail!(
                "the suite {} names no native backends (`native = [...]`); `accelbench run --suite` drives its browsers",
                path.display()
            );
        }
        Ok(NativeArgs {
            quick: s.size == Size::Quick,
            full: s.size == Size::Full,
            kernels: s.kernels,
            cases: s.cases,
            sweeps: s.sweeps,
            dtypes: s.dtypes,
            modes: s.modes,
            train: false,
            backends: s.native,
            seed: s.seed,
            budget: s.budget_s,
            ..self.clone()
        })
    }
}

pub const KNOWN_BACKENDS: [&str; 7] = ["wgpu", "cpu", "reference", "openvino", "cuda", "rocm", "mps"];

/// A validated native run: what `accelbench native` and the server's native endpoint execute.
#[derive(Debug, Clone)]
pub struct NativePlan {
    pub cases: Vec<Case>,
    pub size: Size,
    pub backends: Vec<String>,
    pub adapter: Option<String>,
    pub seed: u64,
    pub sampling: SamplingConfig,
    pub use_timestamps: bool,
    /// Rounds of the whole suite (`--rounds`), each in its own shuffled case order.
    pub rounds: u32,
    /// This invocation's id, stamped on every record with its round.
    pub run_id: String,
    /// Which variants the GPU adapters run; an in-memory cache unless the caller loads one.
    pub autotune: harness::autotune::AutotuneOptions,
    /// Where the Vulkan pipeline caches are kept between runs (`--cache-dir`); none: in memory.
    pub cache_dir: Option<std::path::PathBuf>,
}

impl NativePlan {
    /// Checks names and numbers, so a bad request fails before any measuring starts.
    pub fn new(
        selection: &Selection,
        quick: bool,
        backends: &[String],
        adapter: Option<String>,
        seed: u64,
        budget_s: Option<f64>,
    ) -> anyhow::Result<NativePlan> {
        for b in backends {
            if !KNOWN_BACKENDS.contains(&b.as_str()) {
                bail!("unknown backend `{b}`; choose from: {}", KNOWN_BACKENDS.join(", "));
            }
        }
        let size = if quick { Size::Quick } else { Size::Full };
        let cases = selection.cases(size)?;
        let sampling = sampling(quick, budget_s)?;
        Ok(NativePlan {
            cases,
            size,
            backends: backends.to_vec(),
            adapter,
            seed,
            sampling,
            use_timestamps: true,
            rounds: 1,
            run_id: facts::run_id(),
            autotune: harness::autotune::AutotuneOptions::default(),
            cache_dir: None,
        })
    }

    /// Several rounds are units of a between-run comparison: each spends its whole budget
    /// (no early stop at the CI target), so a round's median spans the machine's states over
    /// the budget rather than the few milliseconds a small kernel needs for a narrow interval.
    pub fn set_rounds(&mut self, rounds: u32) {
        self.rounds = rounds;
        if rounds > 1 {
            self.sampling.target_rel_ci = 0.0;
            self.sampling.max_samples = self.sampling.max_samples.max(1000);
        }
    }

    /// Runs every round, handing each record to `emit` as soon as it exists (so a caller can
    /// store it before the next one starts).
    /// Every record stamped with its share of the run's practical peaks (the peak cases run
    /// first in every round; see `cases::shuffle_cases`).
    pub fn collect(&self, mut emit: impl FnMut(Record) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let mut peaks = harness::peak::Peaks::default();
        let mut emit = |mut r: Record| {
            peaks.observe(&r);
            peaks.annotate(&mut r);
            emit(r)
        };
        for round in 0..self.rounds {
            self.collect_round(round, &mut emit)?;
        }
        Ok(())
    }

    /// One round: every case on every requested backend, in the round's order (the catalogue's
    /// with one round, shuffled per round with several), each record stamped with the run id
    /// and, with several rounds, its round.
    pub fn collect_round(&self, round: u32, mut emit: impl FnMut(Record) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let mut emit = |mut r: Record| {
            r.provenance.run_id = Some(self.run_id.clone());
            r.provenance.round = (self.rounds > 1).then_some(round);
            emit(r)
        };
        let mut order: Vec<&Case> = self.cases.iter().collect();
        if self.rounds > 1 {
            cases::shuffle_cases(&mut order, round_seed(self.seed, round));
        }
        let (size, sampling) = (self.size, &self.sampling);
        let facts = facts::host_facts();
        // Measured, not assumed: the batch of a host-timed sample spans 20 of these.
        let host_resolution_ns = harness::clock::resolution_ns();
        let host_backends = host_backends(&self.backends);
        for b in &host_backends {
            // Probe once: for OpenVINO and CUDA a probe loads the runtime and opens a device.
            let probe = b.probe();
            if let Probe::Unavailable { .. } = probe {
                eprintln!("warning: {}: {}", b.name(), backends::probe_reason(&probe));
            }
        }
        let mut devices =
            if self.backends.iter().any(|b| b == "wgpu") { open_devices(self.adapter.as_deref())? } else { vec![] };
        crate::cache::attach_pipeline_caches(&mut devices, self.cache_dir.as_deref());
        for Case { kernel, params } in order {
            let kernel = *kernel;

            let inputs = match kernel.imp.inputs(params, self.seed) {
                Ok(i) => i,
                Err(e) => bail!("{} / {} has invalid parameters: {e}", kernel.id, params.case),
            };
            let t0 = Instant::now();
            let expected = kernel.imp.reference(params, &inputs);
            let reference_cold_ns = t0.elapsed().as_secs_f64() * 1e9;
            // A reduced-precision kernel's f32 twin output, once for every backend.
            let f32_result = kernel.imp.f32_result(params, &inputs, self.seed);
            for (label, dev) in &devices {
                let opts = RunOptions {
                    backend: label.clone(),
                    size,
                    seed: self.seed,
                    sampling: sampling.clone(),
                    use_timestamps: self.use_timestamps,
                    host_resolution_ns,
                    facts: facts.clone(),
                    autotune: self.autotune.clone(),
                };
                let f32 = f32_result.as_deref();
                emit(pollster::block_on(gpu::run_kernel(dev, kernel, params, &inputs, &expected, f32, &opts)))?;
            }
            let run = |backend: &'static str, adapter| HostRun {
                backend,
                adapter,
                size,
                seed: self.seed,
                sampling,
                facts: &facts,
                resolution_ns: host_resolution_ns,
            };
            for b in &host_backends {
                let run = run(b.name(), b.adapter());
                let record = match b.prepare(kernel, params, &inputs) {
                    Ok(mut prepared) => {
                        let f32 = f32_result.as_deref();
                        measure_host(prepared.as_mut(), kernel, params, Some(&expected), f32, &run)
                    }
                    Err(reason) => run.skipped(kernel, params, reason),
                };
                emit(record)?;
            }
            if self.backends.iter().any(|b| b == "reference") {
                let run = run("native-reference", None);
                let record = match kernel.reference_unmeasurable() {
                    Some(why) => run.skipped(kernel, params, why.into()),
                    None => {
                        let mut r = RefRun { kernel, params, inputs: &inputs, out: expected.clone() };
                        let mut record = measure_host(&mut r, kernel, params, None, None, &run);
                        if let Some(t) = record.timing.as_mut() {
                            // The reference's first run is the one that produced `expected`, above.
                            t.cold.first_run_ns = Some(reference_cold_ns);
                        }
                        record
                    }
                };
                emit(record)?;
            }
        }
        crate::cache::save_pipeline_caches(&devices, self.cache_dir.as_deref());
        Ok(())
    }
}

pub fn run(args: &NativeArgs) -> anyhow::Result<Outcome> {
    let args = &args.with_suite()?;
    let selection = Selection {
        kernels: args.kernels.clone(),
        cases: args.cases.clone(),
        sweeps: args.sweeps.clone(),
        dtypes: args.dtypes.clone(),
        modes: crate::native::modes(&args.modes, args.train),
        models: vec![],
    };
    let mut plan = NativePlan::new(
        &selection,
        args.quick,
        &args.backends,
        adapter_filter(args.adapter.as_ref(), args.icd.as_ref()),
        args.seed,
        args.budget,
    )
    .with_context(|| args.suite.as_ref().map_or_else(String::new, |p| format!("in the suite {}", p.display())))?;
    plan.use_timestamps = !args.no_timestamps;
    plan.set_rounds(check_rounds(args.rounds)?);
    plan.autotune = crate::cache::load(&args.autotune);
    plan.cache_dir = args.autotune.dir();
    let mut stream = crate::results::RecordStream::new(args.json, args.out.as_deref())?;
    let db =
        (!args.no_store || args.baseline.is_some()).then(|| args.db.clone().unwrap_or_else(crate::server::default_db));
    // Read a file or stored baseline before spending minutes measuring, so a bad one fails at
    // once (`latest` is looked up afterwards, against what this run measured).
    let baseline = match args.baseline.as_deref() {
        Some("latest") | None => None,
        Some(b) => Some(crate::results::baseline(b, db.as_deref())?),
    };

    plan.collect(|r: Record| {
        let brief = report::status_brief(&r);
        stream.emit(r, &brief)
    })?;
    let records = stream.records;
    if let Err(e) = crate::cache::save(&args.autotune, &plan.autotune) {
        eprintln!("warning: {e:#}");
    }
    let baseline = match (args.baseline.as_deref(), &db) {
        (Some("latest"), Some(db)) => Some(crate::results::latest_baseline(db, &records, &plan.run_id)?),
        _ => baseline,
    };
    if let Some(db) = db.as_ref().filter(|_| !args.no_store) {
        match crate::results::store(db, &plan.run_id, "native", &records) {
            Ok(()) => eprintln!("stored as run {} in {}", plan.run_id, crate::server::store::redacted(db)),
            Err(e) => eprintln!(
                "warning: the run was not stored in {} (its records are above and in --out): {e:#}",
                crate::server::store::redacted(db)
            ),
        }
    }

    if !args.json {
        report::print_table(&records);
    }
    let mismatches = records.iter().filter(|r| matches!(r.status, Status::Mismatch { .. })).count();
    if mismatches > 0 {
        eprintln!("{mismatches} mismatch(es): outputs disagreed with the CPU reference");
    }
    let mut regressions = 0;
    if let Some(base) = baseline {
        let cmp = harness::compare::compare_runs(&base, &records, args.threshold);
        crate::results::print_comparison(&cmp, args.threshold, crate::results::CompareFormat::Table);
        regressions = cmp.iter().filter(|c| c.is_regression()).count();
    }
    Ok(if mismatches + regressions > 0 { Outcome::Failed } else { Outcome::Ok })
}

/// The shuffle seed of round `round`: differs per round, fixed by the run's seed.
pub fn round_seed(seed: u64, round: u32) -> u64 {
    seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(u64::from(round) + 1)
}

/// `--rounds`: at least one.
pub fn check_rounds(rounds: u32) -> anyhow::Result<u32> {
    if rounds == 0 {
        bail!("--rounds must be at least 1 (5 or more give between-run verdicts in `accelbench compare`)");
    }
    Ok(rounds)
}

/// The protocol's settings for `--quick` or `--full`, with `--budget` seconds per case and
/// backend if given.
pub fn sampling(quick: bool, budget_s: Option<f64>) -> anyhow::Result<SamplingConfig> {
    let mut sampling = if quick { SamplingConfig::quick() } else { SamplingConfig::full() };
    if let Some(b) = budget_s {
        if !(b.is_finite() && b > 0.0) {
            bail!("--budget must be a positive number of seconds, got {b}");
        }
        sampling.time_budget_ns = b * 1e9;
    }
    Ok(sampling)
}

/// An ICD choice is a Vulkan choice: GL adapters are left out unless asked for by name.
pub fn adapter_filter(adapter: Option<&String>, icd: Option<&String>) -> Option<String> {
    adapter.cloned().or_else(|| icd.map(|_| "vulkan".to_owned()))
}

/// Opens every native adapter, labelled `native-wgpu-<backend>`.
pub fn open_devices(filter: Option<&str>) -> anyhow::Result<Vec<(String, GpuDevice)>> {
    let adapters = pollster::block_on(gpu::native_adapters());
    let mut out = Vec::new();
    for a in adapters {
        let rep = gpu::adapter_report(&a);
        if let Some(f) = filter {
            let f = f.to_lowercase();
            if !rep.name.to_lowercase().contains(&f) && !rep.backend.contains(&f) {
                continue;
            }
        }
        match pollster::block_on(GpuDevice::open(&a)) {
            Ok(d) => out.push((format!("native-wgpu-{}", rep.backend), d)),
            Err(e) => tracing::warn!("skipping adapter {}: {e}", rep.name),
        }
    }
    if out.is_empty() {
        eprintln!(
            "warning: no native wgpu adapter{}; on Debian, `apt-get install mesa-vulkan-drivers` gives lavapipe (Vulkan on the CPU)",
            filter.map_or(String::new(), |f| format!(" matching `{f}`"))
        );
    }
    Ok(out)
}

/// The host-driven backends requested, in a fixed order; unavailable ones are kept, so every
/// kernel gets a `skipped` record naming why.
fn host_backends(names: &[String]) -> Vec<Box<dyn Backend>> {
    let mut out: Vec<Box<dyn Backend>> = Vec::new();
    for name in ["cpu", "openvino", "cuda", "rocm", "mps"] {
        if !names.iter().any(|n| n == name) {
            continue;
        }
        let b: Box<dyn Backend> = match name {
            "cpu" => Box::new(backends::Cpu),
            "openvino" => Box::new(backends::OpenVino),
            "cuda" => Box::new(backends::Cuda::default()),
            "rocm" => Box::new(backends::Rocm),
            _ => Box::new(backends::Mps),
        };
        out.push(b);
    }
    out
}

/// What this machine offers natively and why the rest is missing (for `GET /api/v1/backends`).
pub fn describe_backends() -> Vec<BackendStatus> {
    let status = |backend: String, device: Option<String>| BackendStatus {
        backend,
        available: device.is_some(),
        device,
        fallback: None,
        driver: None,
        reason: None,
        fix: None,
    };
    let mut list: Vec<BackendStatus> = pollster::block_on(gpu::native_adapters())
        .iter()
        .map(|a| {
            let r = gpu::adapter_report(a);
            BackendStatus {
                fallback: Some(r.fallback),
                driver: Some(r.driver.clone()),
                ..status(format!("native-wgpu-{}", r.backend), Some(r.name))
            }
        })
        .collect();
    if list.is_empty() {
        list.push(BackendStatus {
            reason: Some("wgpu found no Vulkan, Metal, DX12 or GL adapter".into()),
            fix: Some("on Debian: apt-get install mesa-vulkan-drivers (lavapipe), or a GPU driver".into()),
            ..status("native-wgpu".into(), None)
        });
    }
    let all = ["cpu", "openvino", "cuda", "rocm", "mps"].map(str::to_owned);
    for b in host_backends(&all) {
        list.push(match b.probe() {
            Probe::Available { device } => status(b.name().into(), Some(device)),
            Probe::Unavailable { reason, fix } => {
                BackendStatus { reason: Some(reason), fix: Some(fix), ..status(b.name().into(), None) }
            }
        });
    }
    list.push(status("native-reference".into(), Some("plain CPU reference".into())));
    list
}
