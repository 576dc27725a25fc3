//! The native backends behind one interface: probe (available, or why not and how to fix it),
//! prepare a catalogue entry, run it. Every backend's output is checked against the CPU reference
//! before it is timed, and every outcome is a schema v1 record with the same provenance.

pub mod cpu;
pub mod cuda;

pub use cuda::Cuda;

use harness::catalogue::{Kernel, Params, Size};
use harness::check::compare;
use harness::clock;
use harness::env::HostFacts;
use harness::kernels::Inputs;
use harness::measure::{Sampler, SamplingConfig, batch_for};
use harness::schema::{AdapterReport, ColdTiming, Record, Status, Throughput, TimerInfo, Timing};

pub use cpu::Prepared;

/// Whether a backend can run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Available { device: String },
    Unavailable { reason: String, fix: String },
}

pub trait Backend {
    /// The record's `backend` label, e.g. `native-cpu`.
    fn name(&self) -> &'static str;
    fn probe(&self) -> Probe;
    /// The device the records describe, where there is one beyond the host CPU.
    fn adapter(&self) -> Option<AdapterReport> {
        None
    }
    /// A ready-to-run kernel, or why this backend cannot run it (a `skipped` reason).
    fn prepare(&self, kernel: &Kernel, p: &Params, inputs: &Inputs) -> Result<Box<dyn Prepared>, String>;
}

/// Multi-threaded native CPU code.
#[derive(Debug)]
pub struct Cpu;

impl Backend for Cpu {
    fn name(&self) -> &'static str {
        "native-cpu"
    }
    fn probe(&self) -> Probe {
        Probe::Available { device: format!("{} rayon threads", rayon::current_num_threads()) }
    }
    fn prepare(&self, kernel: &Kernel, p: &Params, inputs: &Inputs) -> Result<Box<dyn Prepared>, String> {
        cpu::prepare(kernel, p, inputs).ok_or_else(|| format!("native-cpu has no implementation of {}", kernel.id))
    }
}

/// The plain CPU reference, timed (`native-reference`): the ground truth's own speed, for scale.
pub struct RefRun<'a> {
    pub kernel: &'a Kernel,
    pub params: &'a Params,
    pub inputs: &'a Inputs,
    pub out: Vec<f32>,
}

impl Prepared for RefRun<'_> {
    fn run(&mut self) {
        self.out = std::hint::black_box(self.kernel.imp.reference(self.params, self.inputs));
    }
    fn output(&self) -> Vec<f32> {
        self.out.clone()
    }
}

/// ROCm (HIP): probed through its runtime library; no kernels yet, so even where HIP exists the
/// records say so rather than pretend.
#[derive(Debug)]
pub struct Rocm;

impl Backend for Rocm {
    fn name(&self) -> &'static str {
        "native-rocm"
    }
    fn probe(&self) -> Probe {
        for lib in ["libamdhip64.so", "libamdhip64.so.6", "libamdhip64.so.5"] {
            if let Some(path) = find_library(lib) {
                return Probe::Unavailable {
                    reason: format!("HIP runtime found at {path}, but accelbench has no ROCm kernels yet"),
                    fix: "use the wgpu Vulkan adapter (RADV) for AMD GPUs meanwhile".into(),
                };
            }
        }
        Probe::Unavailable {
            reason: "no HIP runtime (libamdhip64.so) on the library path".into(),
            fix: "install ROCm (https://rocm.docs.amd.com) on a machine with an AMD GPU".into(),
        }
    }
    fn prepare(&self, _k: &Kernel, _p: &Params, _i: &Inputs) -> Result<Box<dyn Prepared>, String> {
        Err(probe_reason(&self.probe()))
    }
}

/// Metal Performance Shaders: only on Apple machines, where the wgpu Metal adapter is the GPU path.
#[derive(Debug)]
pub struct Mps;

impl Backend for Mps {
    fn name(&self) -> &'static str {
        "native-mps"
    }
    fn probe(&self) -> Probe {
        if cfg!(target_os = "macos") {
            Probe::Unavailable {
                reason: "accelbench has no MPS kernels yet".into(),
                fix: "the wgpu Metal adapter (`native-wgpu-metal`) runs the same WGSL on this Mac's GPU".into(),
            }
        } else {
            Probe::Unavailable {
                reason: format!("MPS exists only on macOS; this is {}", std::env::consts::OS),
                fix: "run on an Apple machine; there the wgpu Metal adapter is the GPU path".into(),
            }
        }
    }
    fn prepare(&self, _k: &Kernel, _p: &Params, _i: &Inputs) -> Result<Box<dyn Prepared>, String> {
        Err(probe_reason(&self.probe()))
    }
}

pub fn probe_reason(p: &Probe) -> String {
    match p {
        Probe::Available { device } => format!("available ({device})"),
        Probe::Unavailable { reason, fix } => format!("{reason}; fix: {fix}"),
    }
}

/// Searches the usual library directories and LD_LIBRARY_PATH for a shared library file.
pub fn find_library(name: &str) -> Option<String> {
    let mut dirs: Vec<String> =
        std::env::var("LD_LIBRARY_PATH").unwrap_or_default().split(':').map(str::to_owned).collect();
    dirs.extend(
        [
            "/usr/lib",
            "/usr/lib64",
            "/usr/lib/x86_64-linux-gnu",
            "/usr/local/lib",
            "/opt/rocm/lib",
            "/usr/local/cuda/lib64",
            "/usr/local/nvidia/lib64",
        ]
        .map(str::to_owned),
    );
    dirs.into_iter().filter(|d| !d.is_empty()).map(|d| format!("{d}/{name}")).find(|p| std::path::Path::new(p).exists())
}

/// What every host-timed record needs to know about its run.
pub struct HostRun<'a> {
    pub backend: &'a str,
    pub adapter: Option<AdapterReport>,
    pub size: Size,
    pub seed: u64,
    pub sampling: &'a SamplingConfig,
    pub facts: &'a HostFacts,
}

/// The native host clock's resolution we claim (Instant is ns-precise; 1 us is conservative).
const HOST_RESOLUTION_NS: f64 = 1000.0;

pub fn base_record(kernel: &Kernel, p: &Params, run: &HostRun<'_>) -> Record {
    kernel.base_record(p, run.size, run.backend, run.adapter.clone(), run.facts.provenance(run.seed))
}

/// Runs a prepared kernel: cold run, check against `expected` (None for the reference itself),
/// warm-up, batching to 20 clock resolutions, adaptive sampling on the host clock.
pub fn measure_host(
    prepared: &mut dyn Prepared,
    kernel: &Kernel,
    p: &Params,
    expected: Option<&[f32]>,
    run: &HostRun<'_>,
) -> Record {
    let mut record = base_record(kernel, p, run);
    let t0 = clock::now();
    prepared.run();
    let first_run_ns = t0.elapsed().as_secs_f64() * 1e9;
    if let Some(expected) = expected {
        let check = compare(&prepared.output(), expected, kernel.tolerance);
        if !check.passed {
            record.status = Status::Mismatch { reason: check.mismatch_reason() };
            record.check = Some(check);
            return record;
        }
        record.check = Some(check);
    }
    for _ in 0..run.sampling.warmup {
        prepared.run();
    }
    let t0 = clock::now();
    prepared.run();
    let single = t0.elapsed().as_secs_f64() * 1e9;
    let reps = batch_for(single, run.sampling.min_resolutions_per_sample * HOST_RESOLUTION_NS, 10_000);
    let mut sampler = Sampler::new(run.sampling.clone());
    let stopped_by = loop {
        let t0 = clock::now();
        for _ in 0..reps {
            prepared.run();
        }
        let wall = t0.elapsed().as_secs_f64() * 1e9;
        sampler.push(wall / f64::from(reps), wall);
        if let Some(r) = sampler.stop_reason() {
            break r;
        }
    };
    let summary = sampler.summary().expect("the sampler stops only with two or more samples");
    record.throughput = Some(Throughput::from_median(&record.work, summary.median_ns));
    record.timing = Some(Timing {
        timer: TimerInfo { kind: "host-clock".into(), resolution_ns: HOST_RESOLUTION_NS, quantized: false },
        batch: reps,
        warmup: run.sampling.warmup,
        samples_ns: sampler.samples().to_vec(),
        summary,
        stopped_by: stopped_by.to_owned(),
        sampling_wall_ns: Some(sampler.spent_ns()),
        cold: ColdTiming { pipeline_ns: None, first_run_ns: Some(first_run_ns) },
        phases: vec![],
    });
    record
}

/// A `skipped` record for a kernel the backend cannot run, with the reason.
pub fn skipped(kernel: &Kernel, p: &Params, run: &HostRun<'_>, reason: String) -> Record {
    Record { status: Status::Skipped { reason }, ..base_record(kernel, p, run) }
}
