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

use crate::catalogue::{Kernel, Params, Size};
use crate::env::HostFacts;
use crate::kernels::Inputs;
use crate::measure::{self, Measurement, SamplingConfig};
use crate::schema::{Record, ShaderRef, Status};

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
    let job = Job { kernel, params, inputs, expected, f32_result };
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

fn base_record(dev: &GpuDevice, job: &Job<'_>, opts: &RunOptions) -> Record {
    let shader = job.kernel.shader();
    let mut r = job.kernel.base_record(
        job.params,
        opts.size,
        &opts.backend,
        Some(dev.report.clone()),
        opts.facts.provenance(opts.seed),
    );
    r.shader = ShaderRef {
        file: shader.file.to_owned(),
        hash: shader.hash.to_owned(),
        entry_points: job.kernel.entry_points.iter().map(|s| (*s).to_owned()).collect(),
    };
    r
}

/// Requirements, then resources and pipelines, then the protocol's own start (cold run, check,
/// warm-up, batch). `Err` is the finished record of a job that ends before sampling.
async fn start<'a>(
    dev: &'a GpuDevice,
    job: &Job<'_>,
    opts: &RunOptions,
) -> Result<Measurement<GpuTimed<'a>>, Box<Record>> {
    let mut record = base_record(dev, job, opts);
    let plan = job.kernel.imp.plan(job.kernel.shader(), job.params, job.inputs);
    if let Some(reason) = unmet_requirement(dev, job.kernel, &plan) {
        record.status = Status::Skipped { reason };
        return Err(Box::new(record));
    }
    let (res, pipeline_ns) = match prepare(dev, &plan).await {
        Ok(p) => p,
        Err(e) => {
            record.status = Status::Failed { reason: e.to_string() };
            return Err(Box::new(record));
        }
    };
    let timed = GpuTimed::new(dev, plan, res, pipeline_ns, opts);
    Measurement::start(timed, record, Some(job.expected), job.f32_result, job.kernel.tolerance, &opts.sampling).await
}
