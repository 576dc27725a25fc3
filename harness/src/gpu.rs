//! wgpu execution, the same code for native adapters and the browser's WebGPU: adapter reports,
//! device creation, requirement checks (a missing feature or limit is a `skipped` record), plan
//! execution with the output poisoned first, the correctness check, and timing with GPU
//! timestamp queries where the adapter has them and host fences where it does not.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::clock;
use wgpu::util::DeviceExt as _;

use crate::catalogue::{Kernel, Params, Size};
use crate::env::HostFacts;
use crate::kernels::Inputs;
use crate::measure::{self, FirstRun, Measurement, Reading, SamplingConfig, Timed};
use crate::plan::{BufferInit, OutputType, Pass, Plan};
use crate::schema::{AdapterReport, Record, ShaderRef, Status, TimerInfo, TimerKind};

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

/// WebGPU feature names we require by name in the catalogue.
fn feature_by_name(name: &str) -> Option<wgpu::Features> {
    match name {
        "shader-f16" => Some(wgpu::Features::SHADER_F16),
        "timestamp-query" => Some(wgpu::Features::TIMESTAMP_QUERY),
        "subgroups" => Some(wgpu::Features::SUBGROUP),
        _ => None,
    }
}

/// Features we ask for when the adapter has them: requirements of catalogue kernels, plus
/// timestamps for timing.
fn wanted_features() -> wgpu::Features {
    wgpu::Features::SHADER_F16 | wgpu::Features::TIMESTAMP_QUERY
}

fn backend_name(b: wgpu::Backend) -> &'static str {
    match b {
        wgpu::Backend::Vulkan => "vulkan",
        wgpu::Backend::Metal => "metal",
        wgpu::Backend::Dx12 => "dx12",
        wgpu::Backend::Gl => "gl",
        wgpu::Backend::BrowserWebGpu => "webgpu",
        _ => "noop",
    }
}

/// A snapshot of what an adapter is and offers, for every record it produces.
pub fn adapter_report(adapter: &wgpu::Adapter) -> AdapterReport {
    let info = adapter.get_info();
    let limits = adapter.limits();
    let name_l = info.name.to_lowercase();
    let software = ["llvmpipe", "lavapipe", "swiftshader", "softpipe", "warp"].iter().any(|s| name_l.contains(s));
    let features = adapter.features().iter_names().map(|(n, _)| n.to_lowercase().replace('_', "-")).collect();
    let limits = BTreeMap::from([
        ("max_buffer_size".to_owned(), limits.max_buffer_size),
        ("max_storage_buffer_binding_size".to_owned(), limits.max_storage_buffer_binding_size),
        ("max_compute_workgroup_storage_size".to_owned(), u64::from(limits.max_compute_workgroup_storage_size)),
        ("max_compute_invocations_per_workgroup".to_owned(), u64::from(limits.max_compute_invocations_per_workgroup)),
        ("max_compute_workgroups_per_dimension".to_owned(), u64::from(limits.max_compute_workgroups_per_dimension)),
        ("max_storage_buffers_per_shader_stage".to_owned(), u64::from(limits.max_storage_buffers_per_shader_stage)),
    ]);
    AdapterReport {
        name: info.name.clone(),
        vendor: format!("{:#06x}", info.vendor),
        device: format!("{:#06x}", info.device),
        backend: backend_name(info.backend).to_owned(),
        device_type: format!("{:?}", info.device_type).to_lowercase(),
        driver: info.driver.clone(),
        driver_info: info.driver_info.clone(),
        fallback: software || info.device_type == wgpu::DeviceType::Cpu,
        // wgpu's WebGPU backend maps exactly `isFallbackAdapter` to `DeviceType::Cpu`.
        is_fallback_adapter: (info.backend == wgpu::Backend::BrowserWebGpu)
            .then_some(info.device_type == wgpu::DeviceType::Cpu),
        features,
        browser_features: vec![],
        limits,
    }
}

/// Every native adapter wgpu finds (Vulkan, Metal, DX12, GL).
#[cfg(not(target_arch = "wasm32"))]
pub async fn native_adapters() -> Vec<wgpu::Adapter> {
    let backends = wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12 | wgpu::Backends::GL;
    let desc = wgpu::InstanceDescriptor { backends, ..wgpu::InstanceDescriptor::new_without_display_handle_from_env() };
    let instance = wgpu::Instance::new(desc);
    instance.enumerate_adapters(backends).await
}

pub use wgpu::Features;

/// An open device and what we learned about it.
pub struct GpuDevice {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub report: AdapterReport,
    pub features: wgpu::Features,
    pub limits: wgpu::Limits,
    /// Why the device stopped working, if it did (device lost or an uncaptured error).
    fault: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for GpuDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuDevice").field("adapter", &self.report.name).finish()
    }
}

impl GpuDevice {
    /// Opens a device with the adapter's own limits (so big problems fit where the hardware
    /// allows) and the optional features we use.
    pub async fn open(adapter: &wgpu::Adapter) -> Result<GpuDevice, GpuError> {
        Self::open_with(adapter, wgpu::Features::all()).await
    }

    /// As [`GpuDevice::open`], with optional features limited to `allow` (tests use this to
    /// check that a kernel needing a missing feature is skipped with that feature named).
    pub async fn open_with(adapter: &wgpu::Adapter, allow: wgpu::Features) -> Result<GpuDevice, GpuError> {
        let report = adapter_report(adapter);
        let features = adapter.features() & wanted_features() & allow;
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("accelbench"),
                required_features: features,
                required_limits: limits.clone(),
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|source| GpuError::RequestDevice { adapter: report.name.clone(), source })?;
        let fault = Arc::new(Mutex::new(None));
        let f = fault.clone();
        device.set_device_lost_callback(move |reason, msg| {
            *f.lock().unwrap() = Some(format!("device lost ({reason:?}): {msg}"));
        });
        let f = fault.clone();
        // wgpu's default handler panics; an uncaptured error must become a `failed` record.
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut g = f.lock().unwrap();
            if g.is_none() {
                *g = Some(format!("uncaptured wgpu error: {e}"));
            }
        }));
        Ok(GpuDevice { device, queue, report, features, limits, fault })
    }

    pub fn has_timestamps(&self) -> bool {
        self.features.contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    fn check_fault(&self, during: &'static str) -> Result<(), GpuError> {
        match self.fault.lock().unwrap().clone() {
            Some(reason) => Err(GpuError::DeviceLost { during, reason }),
            None => Ok(()),
        }
    }

    /// Waits until all submitted work is done.
    async fn wait_idle(&self) -> Result<(), GpuError> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| GpuError::Poll(e.to_string()))?;
        }
        #[cfg(target_arch = "wasm32")]
        {
            let (tx, rx) = futures_channel::oneshot::channel();
            self.queue.on_submitted_work_done(move || {
                let _ = tx.send(());
            });
            rx.await.map_err(|e| GpuError::Poll(e.to_string()))?;
        }
        self.check_fault("waiting for the GPU")
    }

    async fn read(&self, buf: &wgpu::Buffer, size: u64) -> Result<Vec<u8>, GpuError> {
        let (tx, rx) = futures_channel::oneshot::channel();
        buf.slice(..size).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| GpuError::Poll(e.to_string()))?;
        rx.await.map_err(|e| GpuError::Map(e.to_string()))?.map_err(|e| GpuError::Map(e.to_string()))?;
        let data = buf.slice(..size).get_mapped_range().map_err(|e| GpuError::Map(e.to_string()))?.to_vec();
        buf.unmap();
        self.check_fault("reading back results")?;
        Ok(data)
    }
}

/// Why this device cannot run this plan, if it cannot: the first missing feature or limit.
pub fn unmet_requirement(dev: &GpuDevice, kernel: &Kernel, plan: &Plan) -> Option<String> {
    for &name in kernel.requires.iter().chain(plan.shader.requires) {
        match feature_by_name(name) {
            Some(f) if dev.features.contains(f) => {}
            Some(_) => {
                return Some(format!("adapter `{}` lacks the `{name}` feature", dev.report.name));
            }
            None => return Some(format!("unknown feature `{name}` required")),
        }
    }
    let l = &dev.limits;
    let biggest = plan.largest_buffer();
    if biggest > l.max_storage_buffer_binding_size || biggest > l.max_buffer_size {
        return Some(format!(
            "needs a {biggest}-byte buffer; adapter `{}` allows max_storage_buffer_binding_size = {}, max_buffer_size = {}",
            dev.report.name, l.max_storage_buffer_binding_size, l.max_buffer_size
        ));
    }
    for pass in plan.setup.iter().chain(&plan.timed) {
        for d in &pass.dispatches {
            if let Some(ep) = plan.shader.entry_point(d.entry_point) {
                let inv: u32 = ep.workgroup_size.iter().product();
                if inv > l.max_compute_invocations_per_workgroup {
                    return Some(format!(
                        "`{}` uses {inv} invocations per workgroup; adapter allows {}",
                        d.entry_point, l.max_compute_invocations_per_workgroup
                    ));
                }
            }
            if let Some(&w) = d.workgroups.iter().find(|&&w| w > l.max_compute_workgroups_per_dimension) {
                return Some(format!(
                    "`{}` dispatches {w} workgroups in one dimension; adapter allows {}",
                    d.entry_point, l.max_compute_workgroups_per_dimension
                ));
            }
        }
    }
    None
}

/// Resources of a plan on a device, ready to encode.
struct Resources {
    buffers: Vec<wgpu::Buffer>,
    /// Per pass (setup then timed), per dispatch: pipeline and bind group.
    setup: Vec<Vec<(wgpu::ComputePipeline, wgpu::BindGroup, [u32; 3])>>,
    timed: Vec<Vec<(wgpu::ComputePipeline, wgpu::BindGroup, [u32; 3])>>,
}

async fn prepare(dev: &GpuDevice, plan: &Plan) -> Result<(Resources, f64), GpuError> {
    plan.verify()?;
    let scope = dev.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let oom = dev.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let buffers: Vec<wgpu::Buffer> = plan
        .buffers
        .iter()
        .map(|b| {
            let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
            match &b.init {
                BufferInit::Uniform(bytes) => dev.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(&b.label),
                    contents: bytes,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                }),
                BufferInit::Storage(bytes) => dev.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(&b.label),
                    contents: bytes,
                    usage: storage,
                }),
                // All-ones bytes are NaN in f32 and f16: any element the kernel fails to write
                // fails the check.
                BufferInit::Output { bytes } => dev.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(&b.label),
                    contents: &vec![0xFF; *bytes as usize],
                    usage: storage,
                }),
                BufferInit::Scratch { bytes } => dev.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&b.label),
                    size: *bytes,
                    usage: storage,
                    mapped_at_creation: false,
                }),
            }
        })
        .collect();

    // Cold phase: module and pipelines, host clock. Buffers are excluded (upload is not compile).
    let t0 = clock::now();
    let module = dev.device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(plan.shader.file),
        source: wgpu::ShaderSource::Wgsl(plan.shader.source.into()),
    });
    let mut pipelines: BTreeMap<&str, wgpu::ComputePipeline> = BTreeMap::new();
    for pass in plan.setup.iter().chain(&plan.timed) {
        for d in &pass.dispatches {
            pipelines.entry(d.entry_point).or_insert_with(|| {
                dev.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(d.entry_point),
                    layout: None,
                    module: &module,
                    entry_point: Some(d.entry_point),
                    compilation_options: wgpu::PipelineCompilationOptions::default(),
                    cache: None,
                })
            });
        }
    }
    let pipeline_ns = t0.elapsed().as_secs_f64() * 1e9;

    let build = |passes: &[Pass]| {
        passes
            .iter()
            .map(|pass| {
                pass.dispatches
                    .iter()
                    .map(|d| {
                        let pipeline = pipelines[d.entry_point].clone();
                        // `Plan::verify` has checked every name resolves and every used binding is bound.
                        let used = plan.shader.entry_point(d.entry_point).map(|e| e.bindings).unwrap_or(&[]);
                        let entries: Vec<wgpu::BindGroupEntry> = d
                            .bindings
                            .iter()
                            .filter_map(|&(name, id)| Some((plan.shader.global(name)?.binding, id)))
                            .filter(|(b, _)| used.contains(b))
                            .map(|(binding, id)| wgpu::BindGroupEntry {
                                binding,
                                resource: buffers[id].as_entire_binding(),
                            })
                            .collect();
                        let bg = dev.device.create_bind_group(&wgpu::BindGroupDescriptor {
                            label: Some(d.entry_point),
                            layout: &pipeline.get_bind_group_layout(0),
                            entries: &entries,
                        });
                        (pipeline, bg, d.workgroups)
                    })
                    .collect()
            })
            .collect()
    };
    let setup = build(&plan.setup);
    let timed = build(&plan.timed);
    let errors = [oom.pop().await, scope.pop().await];
    if let Some(e) = errors.into_iter().flatten().next() {
        return Err(GpuError::Wgpu { during: "creating buffers and pipelines", message: e.to_string() });
    }
    dev.check_fault("creating pipelines")?;
    Ok((Resources { buffers, setup, timed }, pipeline_ns))
}

type Encoded<'a> = &'a [Vec<(wgpu::ComputePipeline, wgpu::BindGroup, [u32; 3])>];

/// Records `reps` executions of `passes`, each pass its own compute pass; with a query set,
/// each pass writes a timestamp at its beginning and end.
fn encode(encoder: &mut wgpu::CommandEncoder, passes: Encoded<'_>, reps: u32, queries: Option<&wgpu::QuerySet>) {
    let mut q = 0u32;
    for _ in 0..reps {
        for pass in passes {
            let timestamp_writes = queries.map(|qs| wgpu::ComputePassTimestampWrites {
                query_set: qs,
                beginning_of_pass_write_index: Some(q),
                end_of_pass_write_index: Some(q + 1),
            });
            q += 2;
            // Separate dispatches in one pass are ordered by WebGPU's per-dispatch usage scopes
            // (storage writes are visible to the next dispatch), so repetitions never overlap.
            let mut cp = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes });
            for (pipeline, bg, wg) in pass {
                cp.set_pipeline(pipeline);
                cp.set_bind_group(0, bg, &[]);
                cp.dispatch_workgroups(wg[0], wg[1], wg[2]);
            }
        }
    }
}

/// WebGPU caps a query set at 4096 queries; two per pass per repetition.
const MAX_QUERIES: u32 = 4096;

struct Sample {
    /// ns per execution of the timed passes.
    per_exec_ns: f64,
    wall_ns: f64,
    /// Mean ns per pass over the repetitions (timestamps only).
    per_pass_ns: Vec<f64>,
    /// The greatest common divisor of the timestamps' offsets from the first, in ticks (0 without
    /// timestamps): a browser that quantises timestamps (Chrome: 100 us unless started with
    /// `--enable-webgpu-developer-features`) shows it here, whatever it claims.
    tick_gcd: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Below this a detected timestamp granularity is the counter's own; at or above it the values
/// were coarsened (no GPU counter ticks in microseconds).
const QUANTIZED_NS: f64 = 1000.0;

/// The timer as the samples show it: the timestamp period, or the coarser granularity the
/// timestamps actually had.
fn timestamp_timer(period: f64, tick_gcd: u64) -> TimerInfo {
    let step = if tick_gcd > 0 { tick_gcd as f64 * period } else { period };
    TimerInfo { kind: TimerKind::GpuTimestamp, resolution_ns: step.max(period), quantized: step >= QUANTIZED_NS }
}

async fn sample(dev: &GpuDevice, prep: &Resources, reps: u32, ts: Option<&Timestamps>) -> Result<Sample, GpuError> {
    let npass = prep.timed.len();
    let mut encoder = dev.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("sample") });
    encode(&mut encoder, &prep.timed, reps, ts.map(|t| &t.0));
    let nq = 2 * reps * npass as u32;
    if let Some((qs, resolve, readback)) = ts {
        encoder.resolve_query_set(qs, 0..nq, resolve, 0);
        encoder.copy_buffer_to_buffer(resolve, 0, readback, 0, u64::from(nq) * 8);
    }
    let t0 = clock::now();
    dev.queue.submit([encoder.finish()]);
    dev.wait_idle().await?;
    let wall_ns = t0.elapsed().as_secs_f64() * 1e9;
    match ts {
        None => Ok(Sample { per_exec_ns: wall_ns / f64::from(reps), wall_ns, per_pass_ns: vec![], tick_gcd: 0 }),
        Some((_, _, readback)) => {
            let raw = dev.read(readback, u64::from(nq) * 8).await?;
            let ticks: &[u64] = bytemuck::cast_slice(&raw);
            let period = f64::from(dev.queue.get_timestamp_period());
            let total = ticks[nq as usize - 1].saturating_sub(ticks[0]) as f64 * period;
            let mut per_pass = vec![0.0; npass];
            for r in 0..reps as usize {
                for (p, acc) in per_pass.iter_mut().enumerate() {
                    let i = 2 * (r * npass + p);
                    *acc += ticks[i + 1].saturating_sub(ticks[i]) as f64 * period / f64::from(reps);
                }
            }
            let tick_gcd = ticks[..nq as usize].iter().fold(0, |g, &t| gcd(g, t.saturating_sub(ticks[0])));
            Ok(Sample { per_exec_ns: total / f64::from(reps), wall_ns, per_pass_ns: per_pass, tick_gcd })
        }
    }
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

/// Runs one kernel at one parameter set: check against `expected`, then measure.
/// Never panics on GPU trouble: every outcome is a record.
pub async fn run_kernel(
    dev: &GpuDevice,
    kernel: &Kernel,
    params: &Params,
    inputs: &Inputs,
    expected: &[f32],
    opts: &RunOptions,
) -> Record {
    let job = Job { kernel, params, inputs, expected };
    run_interleaved(dev, &[job], opts).await.pop().expect("one record per job")
}

/// One kernel at one parameter set with its inputs and expected output.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    pub kernel: &'a Kernel,
    pub params: &'a Params,
    pub inputs: &'a Inputs,
    pub expected: &'a [f32],
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
    let timed = GpuTimed {
        dev,
        plan,
        res,
        use_ts: opts.use_timestamps && dev.has_timestamps(),
        ts: None,
        tick_gcd: 0,
        host_resolution_ns: opts.host_resolution_ns,
        pipeline_ns,
    };
    Measurement::start(timed, record, Some(job.expected), job.kernel.tolerance, &opts.sampling).await
}

type Timestamps = (wgpu::QuerySet, wgpu::Buffer, wgpu::Buffer);

/// A plan on a device, timed with timestamp queries where the device has them and host fences
/// where it does not.
struct GpuTimed<'a> {
    dev: &'a GpuDevice,
    plan: Plan,
    res: Resources,
    use_ts: bool,
    /// Query set and buffers for the current batch size.
    ts: Option<(u32, Timestamps)>,
    /// Timestamp granularity over every execution so far (see [`Sample::tick_gcd`]).
    tick_gcd: u64,
    host_resolution_ns: f64,
    pipeline_ns: f64,
}

impl std::fmt::Debug for GpuTimed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuTimed").field("shader", &self.plan.shader.file).field("use_ts", &self.use_ts).finish()
    }
}

impl Timed for GpuTimed<'_> {
    type Error = GpuError;

    async fn first_run(&mut self) -> Result<FirstRun, GpuError> {
        let (dev, plan, res) = (self.dev, &self.plan, &self.res);
        let scope = dev.device.push_error_scope(wgpu::ErrorFilter::Validation);
        if !res.setup.is_empty() {
            let mut enc = dev.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("setup") });
            encode(&mut enc, &res.setup, 1, None);
            dev.queue.submit([enc.finish()]);
            dev.wait_idle().await?;
        }
        // Cold: caches, lazy driver compiles. Checked, never a sample.
        let out = &res.buffers[plan.output];
        let elem = match plan.output_type {
            OutputType::F32 => 4,
            OutputType::F16 => 2,
        };
        let out_bytes = ((plan.output_len * elem) as u64).next_multiple_of(4);
        let readback = dev.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: out_bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = dev.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("first") });
        encode(&mut enc, &res.timed, 1, None);
        let t0 = clock::now();
        dev.queue.submit([enc.finish()]);
        dev.wait_idle().await?;
        let ns = t0.elapsed().as_secs_f64() * 1e9;
        let mut enc = dev.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("copy") });
        enc.copy_buffer_to_buffer(out, 0, &readback, 0, out_bytes);
        dev.queue.submit([enc.finish()]);
        let raw = dev.read(&readback, out_bytes).await?;
        if let Some(e) = scope.pop().await {
            return Err(GpuError::Wgpu { during: "running the kernel", message: e.to_string() });
        }
        let output = match plan.output_type {
            OutputType::F32 => bytemuck::cast_slice::<u8, f32>(&raw)[..plan.output_len].to_vec(),
            OutputType::F16 => bytemuck::cast_slice::<u8, u16>(&raw)[..plan.output_len]
                .iter()
                .map(|&h| half::f16::from_bits(h).to_f32())
                .collect(),
        };
        Ok(FirstRun { output, ns })
    }

    async fn sample(&mut self, reps: u32) -> Result<Reading, GpuError> {
        if self.use_ts && self.ts.as_ref().is_none_or(|(n, _)| *n != reps) {
            self.ts = Some((reps, make_timestamps(self.dev, reps, self.res.timed.len() as u32)));
        }
        let scope = self.dev.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let s = sample(self.dev, &self.res, reps, self.ts.as_ref().map(|(_, t)| t)).await?;
        if let Some(e) = scope.pop().await {
            return Err(GpuError::Wgpu { during: "timing the kernel", message: e.to_string() });
        }
        self.tick_gcd = gcd(self.tick_gcd, s.tick_gcd);
        Ok(Reading { per_exec_ns: s.per_exec_ns, wall_ns: s.wall_ns, per_pass_ns: s.per_pass_ns })
    }

    fn timer(&self) -> TimerInfo {
        if self.use_ts {
            timestamp_timer(f64::from(self.dev.queue.get_timestamp_period()), self.tick_gcd)
        } else {
            TimerInfo { kind: TimerKind::HostFence, resolution_ns: self.host_resolution_ns, quantized: false }
        }
    }

    fn min_sample_ns(&self, cfg: &SamplingConfig) -> f64 {
        let span = cfg.min_resolutions_per_sample * self.timer().resolution_ns;
        // A fence sample also carries a fixed submit-and-wait cost; 1 ms keeps it to a few percent.
        if self.use_ts { span } else { span.max(1e6) }
    }

    fn max_reps(&self) -> u32 {
        if self.use_ts { (MAX_QUERIES / (2 * self.res.timed.len() as u32)).max(1) } else { 1000 }
    }

    fn phase_labels(&self) -> Vec<String> {
        if self.use_ts && self.plan.timed.len() > 1 {
            self.plan.timed.iter().map(|p| p.label.clone()).collect()
        } else {
            vec![]
        }
    }

    fn pipeline_ns(&self) -> Option<f64> {
        Some(self.pipeline_ns)
    }
}

fn make_timestamps(dev: &GpuDevice, reps: u32, npass: u32) -> Timestamps {
    let n = 2 * reps * npass;
    let qs = dev.device.create_query_set(&wgpu::QuerySetDescriptor {
        label: Some("timestamps"),
        ty: wgpu::QueryType::Timestamp,
        count: n,
    });
    let buffer = |label, usage| {
        dev.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: u64::from(n) * 8,
            usage,
            mapped_at_creation: false,
        })
    };
    let resolve = buffer("ts-resolve", wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC);
    let read = buffer("ts-read", wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
    (qs, resolve, read)
}

#[cfg(test)]
mod tests {
    use super::{gcd, timestamp_timer};

    #[test]
    fn quantised_timestamps_are_detected_from_their_granularity() {
        // Chrome without developer features: every timestamp a multiple of 100 us.
        let ticks = [1_700_000_000u64, 1_700_100_000, 1_700_300_000, 1_700_400_000];
        let g = ticks.iter().fold(0, |g, &t| gcd(g, t - ticks[0]));
        let t = timestamp_timer(1.0, g);
        assert!(t.quantized && t.resolution_ns == 100_000.0, "{t:?}");
        // Nanosecond timestamps: the granularity is the counter's.
        let ticks = [1_000_000_017u64, 1_000_412_345, 1_000_981_002];
        let g = ticks.iter().fold(0, |g, &t| gcd(g, t - ticks[0]));
        let t = timestamp_timer(1.0, g);
        assert!(!t.quantized && t.resolution_ns < 1000.0, "{t:?}");
        // No timestamps seen yet: the advertised period.
        assert_eq!(timestamp_timer(52.08, 0).resolution_ns, 52.08);
    }
}
