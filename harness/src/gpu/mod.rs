//! wgpu execution, the same code for native adapters and the browser's WebGPU: adapter reports,
//! device creation, requirement checks (a missing feature or limit is a `skipped` record), plan
//! execution with the output poisoned first, the correctness check, and timing with GPU
//! timestamp queries where the adapter has them and host fences where it does not.
//!
//! `device` opens adapters and devices and checks requirements, `resources` turns a plan into
//! buffers, pipelines and bind groups, `timing` times them ([`measure::Timed`]); this module
//! runs jobs through the one measurement protocol.

mod device;
mod model;
mod resources;
mod timing;
mod train;

#[cfg(not(target_arch = "wasm32"))]
pub use device::native_adapters;
pub use device::{GpuDevice, adapter_report, unmet_plan_requirement, unmet_requirement};
pub use wgpu::Features;

use crate::autotune::{self, AutotuneMode, AutotuneOptions};
use crate::catalogue::{Implementation, Kernel, Params, Size};
use crate::env::HostFacts;
use crate::kernels::Inputs;
use crate::measure::{self, Measurement, SamplingConfig};
use crate::schema::{Autotune, AutotuneHow, CandidateTiming, Record, ShaderRef, Status, TunedEntry};

pub use model::run_model;
use resources::prepare;
use timing::GpuTimed;
pub use train::run_training;

#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("requesting a device from {adapter} failed: {source}")]
    RequestDevice { adapter: String, source: wgpu::RequestDeviceError },
    #[error("wgpu validation or out-of-memory error while {during}: {message}")]
    Wgpu { during: &'static str, message: String },
    #[error("the device was lost while {during}: {reason}")]
    DeviceLost { during: &'static str, reason: String },
    #[error("mapping a buffer for readback failed: {0}")]
    Map(String),
    #[error("waiting for the GPU failed: {0}")]
    Poll(String),
    #[error("the kernel's plan does not match its shader: {0}")]
    Plan(#[from] crate::plan::PlanError),
}

/// What a run needs beyond the kernel and its inputs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub backend: String,
    pub size: Size,
    pub seed: u64,
    pub sampling: SamplingConfig,
    /// Use timestamp queries when the device has them (off: host fences, for comparison).
    pub use_timestamps: bool,
    /// Resolution of the host clock as measured ([`crate::clock::resolution_ns`]; in a page
    /// 5 us when cross-origin isolated, else 100 us or coarser).
    pub host_resolution_ns: f64,
    pub facts: HostFacts,
    /// Which of a kernel's variants run ([`crate::autotune`]).
    pub autotune: AutotuneOptions,
}

/// Runs one kernel at one parameter set: check against `expected` (and, for a reduced-precision
/// kernel, measure its distance from `f32_result`), then measure.
/// Never panics on GPU trouble: every outcome is a record.
pub async fn run_kernel(
    dev: &GpuDevice,
    kernel: &Kernel,
    params: &Params,
    inputs: &Inputs,
    expected: &[f32],
    f32_result: Option<&[f32]>,
    opts: &RunOptions,
) -> Record {
    let job = Job { kernel, params, inputs, expected, f32_result, variant: None };
    run_interleaved(dev, &[job], opts).await.pop().expect("one record per job")
}

/// One kernel at one parameter set with its inputs and expected output.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    pub kernel: &'a Kernel,
    pub params: &'a Params,
    pub inputs: &'a Inputs,
    pub expected: &'a [f32],
    /// The f32 result a reduced-precision kernel's output is also compared with
    /// ([`crate::kernels::KernelImpl::f32_result`]).
    pub f32_result: Option<&'a [f32]>,
    /// Run this variant, not the autotuner's choice (recorded as `fixed`).
    pub variant: Option<&'a str>,
}

/// Measures several jobs on one device with their samples taken round-robin
/// ([`measure::interleaved`]), so an A/A pair is never told apart by the machine's drift.
pub async fn run_interleaved(dev: &GpuDevice, jobs: &[Job<'_>], opts: &RunOptions) -> Vec<Record> {
    run_observed(dev, jobs, opts, &mut |_, _| {}, &|| false).await
}

/// As [`run_interleaved`], telling `on_sample(job index, samples taken)` after every sample and
/// asking `cancelled()` between samples, so a page can show progress and stop early.
pub async fn run_observed(
    dev: &GpuDevice,
    jobs: &[Job<'_>],
    opts: &RunOptions,
    on_sample: &mut dyn FnMut(usize, usize),
    cancelled: &dyn Fn() -> bool,
) -> Vec<Record> {
    let mut cases = Vec::with_capacity(jobs.len());
    for job in jobs {
        cases.push(start(dev, job, opts).await);
    }
    measure::interleaved(cases, on_sample, cancelled).await
}

fn base_record(dev: &GpuDevice, job: &Job<'_>, opts: &RunOptions, imp: &Implementation) -> Record {
    let mut r = job.kernel.base_record(
        job.params,
        opts.size,
        &opts.backend,
        Some(dev.report.clone()),
        opts.facts.provenance(opts.seed),
    );
    r.shader = ShaderRef {
        file: imp.shader.file.to_owned(),
        hash: imp.shader.hash.to_owned(),
        entry_points: job.kernel.entry_points.iter().map(|s| (*s).to_owned()).collect(),
    };
    r.variant = Some(imp.variant.to_owned());
    r
}

/// Requirements, the variant (see [`choose`]), then resources and pipelines, then the
/// protocol's own start (cold run, check, warm-up, batch). `Err` is the finished record of a
/// job that ends before sampling.
async fn start<'a>(
    dev: &'a GpuDevice,
    job: &Job<'_>,
    opts: &RunOptions,
) -> Result<Measurement<GpuTimed<'a>>, Box<Record>> {
    let all = job.kernel.implementations();
    // The kernel's own implementation speaks for the record until one is chosen, so a kernel
    // no variant of which can run is skipped with the same reason as before variants existed.
    let own = all[0];
    let mut record = base_record(dev, job, opts, &own);
    let mut candidates = Vec::new();
    let mut own_unmet = None;
    for imp in &all {
        let plan = imp.imp.plan(imp.shader, job.params, job.inputs);
        match unmet_plan_requirement(dev, imp.requires, &plan) {
            None => candidates.push(*imp),
            Some(reason) if imp.variant == own.variant => own_unmet = Some(reason),
            Some(_) => {}
        }
    }
    let (imp, tune) = match choose(dev, job, opts, &candidates, own_unmet).await {
        Ok(c) => c,
        Err(NotRun::Skipped(reason)) => {
            record.status = Status::Skipped { reason };
            record.variant = None;
            return Err(Box::new(record));
        }
        Err(NotRun::Ended(record)) => return Err(record),
    };
    let mut record = base_record(dev, job, opts, &imp);
    record.autotune = Some(tune);
    let plan = imp.imp.plan(imp.shader, job.params, job.inputs);
    let (res, compiled) = match prepare(dev, &plan).await {
        Ok(p) => p,
        Err(e) => {
            record.status = Status::Failed { reason: e.to_string() };
            return Err(Box::new(record));
        }
    };
    let timed = GpuTimed::new(dev, plan, res, compiled, opts);
    Measurement::start(timed, record, Some(job.expected), job.f32_result, job.kernel.tolerance, &opts.sampling).await
}

/// Why a job ends before its measurement: nothing can run (a skip's reason), or a candidate's
/// own record ended it (a variant that gave a wrong answer: a mismatch is never hidden behind
/// the tuner's choice of another variant).
enum NotRun {
    Skipped(String),
    Ended(Box<Record>),
}

/// The implementation to measure among `candidates` (those the adapter can run) and how it was
/// chosen: the job's fixed variant, the kernel's own with `--autotune off`, the only candidate,
/// the cache's choice, or a tuning pass's.
async fn choose(
    dev: &GpuDevice,
    job: &Job<'_>,
    opts: &RunOptions,
    candidates: &[Implementation],
    own_unmet: Option<String>,
) -> Result<(Implementation, Autotune), NotRun> {
    let plain = |imp: Implementation, how| Ok((imp, Autotune { how, key: String::new(), candidates: vec![] }));
    if let Some(name) = job.variant {
        return match candidates.iter().find(|c| c.variant == name) {
            Some(c) => plain(*c, AutotuneHow::Fixed),
            None => Err(NotRun::Skipped(match job.kernel.implementations().iter().any(|c| c.variant == name) {
                true => format!("variant `{name}` of {} cannot run on adapter `{}`", job.kernel.id, dev.report.name),
                false => format!("{} has no variant `{name}`", job.kernel.id),
            })),
        };
    }
    let own = candidates.iter().find(|c| c.variant == crate::catalogue::DEFAULT_VARIANT);
    match (opts.autotune.mode, candidates) {
        (_, []) => return Err(NotRun::Skipped(own_unmet.unwrap_or_else(|| "no implementation can run here".into()))),
        (AutotuneMode::Off, _) => {
            return match own {
                Some(c) => plain(*c, AutotuneHow::Off),
                None => Err(NotRun::Skipped(own_unmet.unwrap_or_default())),
            };
        }
        (_, [only]) => return plain(*only, AutotuneHow::Only),
        _ => {}
    }
    let key = autotune::key(&dev.report, job.kernel, candidates, job.params);
    let hit = (opts.autotune.mode == AutotuneMode::Cached).then(|| opts.autotune.cache.get(&key)).flatten();
    if let Some(hit) = hit
        && let Some(c) = candidates.iter().find(|c| c.variant == hit.variant)
    {
        return Ok((*c, Autotune { how: AutotuneHow::CacheHit, key, candidates: hit.candidates }));
    }
    let (timings, mismatch) = tune(dev, job, opts, candidates).await;
    if let Some(mut r) = mismatch {
        r.autotune = Some(Autotune { how: AutotuneHow::Tuned, key, candidates: timings });
        return Err(NotRun::Ended(r));
    }
    let Some(best) = autotune::winner(&timings) else {
        // Every candidate failed or mismatched: measure the kernel's own, whose record then
        // says what went wrong, rather than hide it behind the tuner.
        return match own {
            Some(c) => Ok((*c, Autotune { how: AutotuneHow::Tuned, key, candidates: timings })),
            None => Err(NotRun::Skipped(format!("no variant passed the tuning pass: {timings:?}"))),
        };
    };
    let chosen = candidates[best];
    opts.autotune
        .cache
        .put(key.clone(), TunedEntry { variant: chosen.variant.to_owned(), candidates: timings.clone() });
    Ok((chosen, Autotune { how: AutotuneHow::Tuned, key, candidates: timings }))
}

/// The tuning pass: each candidate checked against the reference and timed for a few samples,
/// round-robin, those over [`autotune::DROP_RATIO`] times the leader after the first sample
/// dropped. A candidate that fails is noted and never chosen; the first that mismatches comes
/// back as its record, which ends the job.
async fn tune(
    dev: &GpuDevice,
    job: &Job<'_>,
    opts: &RunOptions,
    candidates: &[Implementation],
) -> (Vec<CandidateTiming>, Option<Box<Record>>) {
    let cfg = autotune::tuning_sampling();
    let mut timings: Vec<CandidateTiming> = candidates
        .iter()
        .map(|c| CandidateTiming { variant: c.variant.to_owned(), median_ns: None, note: None })
        .collect();
    let mut running = Vec::new();
    let mut mismatch = None;
    for (i, imp) in candidates.iter().enumerate() {
        let record = base_record(dev, job, opts, imp);
        let plan = imp.imp.plan(imp.shader, job.params, job.inputs);
        let (res, compiled) = match prepare(dev, &plan).await {
            Ok(p) => p,
            Err(e) => {
                timings[i].note = Some(e.to_string());
                continue;
            }
        };
        let timed = GpuTimed::new(dev, plan, res, compiled, opts);
        match Measurement::start(timed, record, Some(job.expected), None, job.kernel.tolerance, &cfg).await {
            Ok(m) => running.push((i, m)),
            Err(r) => {
                timings[i].note = Some(r.status.reason().unwrap_or("did not start").to_owned());
                if matches!(r.status, Status::Mismatch { .. }) && mismatch.is_none() {
                    mismatch = Some(r);
                }
            }
        }
    }
    for round in 0..cfg.max_samples {
        for (_, m) in &mut running {
            m.step().await;
        }
        if round == 0 {
            let first: Vec<Option<f64>> = running.iter().map(|(_, m)| m.last_sample_ns()).collect();
            for ((i, m), drop) in running.iter_mut().zip(autotune::dropped_after_first(&first)) {
                if drop {
                    timings[*i].median_ns = m.last_sample_ns();
                    timings[*i].note =
                        Some(format!("dropped after one sample: over {}x the leader", autotune::DROP_RATIO));
                    m.cancel();
                }
            }
            running.retain(|(_, m)| !m.is_done());
        }
    }
    for (i, m) in running {
        timings[i].median_ns = m.median_ns();
        let r = m.finish();
        if let Some(reason) = r.status.reason() {
            timings[i].note = Some(reason.to_owned());
        }
    }
    (timings, mismatch)
}
