//! The result record: one (kernel, parameters, dtype, backend) with its status, timing,
//! throughput, check, adapter, shader and provenance.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub schema_version: u32,
    pub kernel: String,
    pub family: String,
    /// The catalogue's name for the parameter set (e.g. `s256`), unique within a kernel.
    pub case: String,
    pub params: BTreeMap<String, u64>,
    /// `quick` or `full`.
    pub size: String,
    pub dtype: String,
    /// `inference`, or `training` for a backward kernel, a loss, an optimiser step or a whole
    /// training step; files from before this field read as inference.
    #[serde(default)]
    pub mode: Mode,
    /// Where it ran: `native-wgpu-vulkan`, `native-reference`, `chrome-webgpu`, `firefox-wasm`, ...
    pub backend: String,
    #[serde(flatten)]
    pub status: Status,
    pub work: Work,
    pub timing: Option<Timing>,
    pub throughput: Option<Throughput>,
    pub check: Option<CheckReport>,
    pub adapter: Option<AdapterReport>,
    pub shader: ShaderRef,
    pub provenance: Provenance,
    /// Whole-model figures (prefill and decode rates, time to first token, per-token latency,
    /// device memory) for a model record; absent on kernel records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<super::ModelMetrics>,
    /// A training run's figures (steps/s, tokens/s, the loss curve); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<super::TrainingMetrics>,
    /// This record's share of the practical peaks measured on the same backend and adapter in
    /// the same run; absent where no peak was measured there (added within v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak: Option<PeakShare>,
    /// The implementation a GPU backend ran ([`crate::catalogue::Variant`]; `default` is the
    /// kernel's own); absent on CPU backends (added within v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// How `variant` was chosen (added within v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autotune: Option<super::Autotune>,
}

/// A record's achieved rates over the practical peaks ([`crate::peak`]): the memory share
/// (bytes moved / peak bandwidth) and the compute share (flops / the FMA peak of its dtype;
/// quantised kernels compute in f32). The larger share is the resource the kernel is bound by,
/// as in a roofline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeakShare {
    /// `memory` or `compute`: the larger of the two shares.
    pub bound: String,
    /// The bound resource's share, 0..(about) 1.
    pub fraction: f64,
    /// Achieved GB/s over `peak_gbps`; absent where no bandwidth peak was measured.
    pub memory: Option<f64>,
    /// Achieved GFLOP/s over `peak_gflops`; absent for kernels without flops or without an
    /// FMA peak of their dtype.
    pub compute: Option<f64>,
    pub peak_gbps: Option<f64>,
    pub peak_gflops: Option<f64>,
    /// The peak records' kernel ids this share is against.
    pub against: Vec<String>,
}

/// Whether a record measures inference or training work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Inference,
    Training,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::Inference, Mode::Training];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Inference => "inference",
            Mode::Training => "training",
        }
    }
}

/// Outcome. Only `Measured` records carry timings that may be compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Status {
    Measured,
    /// The backend cannot run this kernel (a missing feature or limit); the reason names it.
    Skipped {
        reason: String,
    },
    /// The output disagreed with the CPU reference; see `check`.
    Mismatch {
        reason: String,
    },
    /// Something broke (device lost, validation error, crash); the reason says what.
    Failed {
        reason: String,
    },
}

impl Status {
    pub fn label(&self) -> &'static str {
        match self {
            Status::Measured => "measured",
            Status::Skipped { .. } => "skipped",
            Status::Mismatch { .. } => "mismatch",
            Status::Failed { .. } => "failed",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Status::Measured => None,
            Status::Skipped { reason } | Status::Mismatch { reason } | Status::Failed { reason } => Some(reason),
        }
    }
}

/// Work per kernel execution, from the catalogue's formulas (not measured).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Work {
    pub flops: f64,
    /// Minimum bytes moved to and from global memory (each input read once, output written once).
    pub bytes: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub timer: TimerInfo,
    /// Executions of the timed passes per sample (batched when one is below the timer's reach);
    /// samples are per single execution.
    pub batch: u32,
    pub warmup: u32,
    /// Steady-state samples in ns per execution; warm-up and the first (cold) run are excluded.
    pub samples_ns: Vec<f64>,
    pub summary: Summary,
    pub stopped_by: StopReason,
    /// Wall time spent taking the samples (host clock, ns); added within v1, so optional.
    #[serde(default)]
    pub sampling_wall_ns: Option<f64>,
    pub cold: ColdTiming,
    /// Per-pass medians (ns) where the timer resolves passes (GPU timestamps), e.g. prefill and
    /// each decode step of a streaming scenario.
    pub phases: Vec<PhaseTiming>,
}

/// Why sampling stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// The median's 95% CI became narrow enough.
    CiTarget,
    /// The time budget was spent (with at least the minimum samples, or two for a very slow case).
    TimeBudget,
    MaxSamples,
    /// The user cancelled the run; the samples so far are kept.
    Cancelled,
    /// The backend failed while sampling; the record is `failed` with its message.
    Error,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::CiTarget => "ci-target",
            StopReason::TimeBudget => "time-budget",
            StopReason::MaxSamples => "max-samples",
            StopReason::Cancelled => "cancelled",
            StopReason::Error => "error",
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a sample was timed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimerKind {
    /// Timestamp queries written at the beginning and end of each pass.
    GpuTimestamp,
    /// The host clock around submit and completion of the GPU work.
    HostFence,
    /// The host clock around CPU code.
    HostClock,
}

impl TimerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::GpuTimestamp => "gpu-timestamp",
            TimerKind::HostFence => "host-fence",
            TimerKind::HostClock => "host-clock",
        }
    }
}

impl std::fmt::Display for TimerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimerInfo {
    pub kind: TimerKind,
    pub resolution_ns: f64,
    /// True where the platform coarsens this timer (Chrome's 100 us timestamp quantisation).
    pub quantized: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ColdTiming {
    /// Shader module and pipeline creation, host clock: the first time in this process.
    pub pipeline_ns: Option<f64>,
    /// The first execution (setup excluded), host clock around submit and completion.
    pub first_run_ns: Option<f64>,
    /// The same pipelines created again at once, with the driver and the cache warm (added
    /// within v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_pipeline_ns: Option<f64>,
    /// Whether a persistent pipeline cache held these pipelines when they were first created
    /// (added within v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_cache: Option<PipelineCacheState>,
}

/// A persistent pipeline cache's part in a pipeline's first creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PipelineCacheState {
    /// The cache was loaded with data from a run that created these same pipelines (the same
    /// shaders, by hash) on this adapter and driver.
    Hit,
    /// A cache was in use but had not seen these pipelines.
    Miss,
    /// No persistent cache here (not Vulkan, or a browser, whose caches are its own).
    Unsupported,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseTiming {
    pub label: String,
    pub median_ns: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: u64,
    pub median_ns: f64,
    pub mean_ns: f64,
    pub min_ns: f64,
    pub max_ns: f64,
    pub p10_ns: f64,
    pub p90_ns: f64,
    pub p99_ns: f64,
    /// Coefficient of variation (stddev / mean).
    pub cv: f64,
    /// Bootstrap 95% confidence interval of the median.
    pub median_ci_low_ns: f64,
    pub median_ci_high_ns: f64,
    /// Tukey classification (1.5 / 3 IQR fences); outliers stay in the sample.
    pub outliers: Outliers,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outliers {
    pub low_severe: u64,
    pub low_mild: u64,
    pub high_mild: u64,
    pub high_severe: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// flops / median time.
    pub gflops: f64,
    /// bytes / median time.
    pub gbps: f64,
}

impl Throughput {
    /// The catalogue's work per execution divided by the median time of one execution.
    pub fn from_median(work: &Work, median_ns: f64) -> Throughput {
        Throughput { gflops: work.flops / median_ns, gbps: work.bytes / median_ns }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub passed: bool,
    pub tolerance: String,
    pub abs_tolerance: f64,
    pub rel_tolerance: f64,
    pub max_abs_err: f64,
    pub max_rel_err: f64,
    pub worst_index: Option<u64>,
    pub worst_expected: Option<f64>,
    /// None when the worst element was NaN (e.g. never written).
    pub worst_actual: Option<f64>,
    pub failing_elements: u64,
    pub elements: u64,
    /// A reduced-precision kernel's output (fp16, q8, q4) against the same operation in f32 on
    /// the unrounded, unquantised inputs: what the precision costs in accuracy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vs_f32: Option<F32Error>,
}

/// An output against the f32 result of the same operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct F32Error {
    pub max_abs_err: f64,
    /// Root-mean-square of the differences.
    pub rms_err: f64,
    /// `rms_err` over the RMS of the f32 result: the usual single figure for quantisation error.
    pub rel_rms_err: f64,
}

impl CheckReport {
    /// One line for a `mismatch` record's reason: how many elements failed and the worst one.
    pub fn mismatch_reason(&self) -> String {
        format!(
            "{} of {} elements outside `{}` tolerance; worst at index {} (expected {}, got {})",
            self.failing_elements,
            self.elements,
            self.tolerance,
            self.worst_index.map_or("-".into(), |i| i.to_string()),
            self.worst_expected.map_or("-".into(), |v| format!("{v:.6e}")),
            self.worst_actual.map_or("NaN".into(), |v| format!("{v:.6e}")),
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdapterReport {
    pub name: String,
    pub vendor: String,
    pub device: String,
    /// `vulkan`, `gl`, `metal`, `dx12`, `webgpu`.
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    /// Software rasteriser / CPU implementation (lavapipe, llvmpipe, SwiftShader): its numbers
    /// are never GPU results.
    pub fallback: bool,
    /// The browser's own `GPUAdapter.info.isFallbackAdapter`; absent outside browsers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_fallback_adapter: Option<bool>,
    /// The features the executing API can request (wgpu's names, lower-kebab-case).
    pub features: Vec<String>,
    /// In a browser: the browser's own `GPUAdapter.features`, which wgpu's WebGPU backend maps
    /// only partly (e.g. `subgroups` is offered by Chrome but cannot be requested through wgpu).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub browser_features: Vec<String>,
    /// WGSL language extensions the executing implementation offers (`requires` names, e.g.
    /// `packed_4x8_integer_dot_product`): natively naga's, in a browser the browser's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wgsl_language_features: Vec<String>,
    pub limits: BTreeMap<String, u64>,
}

impl AdapterReport {
    /// A device behind a runtime that is not a WebGPU adapter (CUDA, OpenVINO, WebNN): named by
    /// the runtime, with no wgpu features, WGSL extensions or limits to report.
    pub fn runtime(name: String, backend: &str, device_type: &str, driver: &str) -> AdapterReport {
        AdapterReport {
            name,
            vendor: String::new(),
            device: String::new(),
            backend: backend.to_owned(),
            device_type: device_type.to_owned(),
            driver: driver.to_owned(),
            driver_info: String::new(),
            fallback: false,
            is_fallback_adapter: None,
            features: vec![],
            browser_features: vec![],
            wgsl_language_features: vec![],
            limits: BTreeMap::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShaderRef {
    /// Empty for backends that run no shader (CPU).
    pub file: String,
    pub hash: String,
    pub entry_points: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub accelbench_version: String,
    /// Git commit of the suite, `unknown` outside a checkout.
    pub commit: String,
    pub os: String,
    pub arch: String,
    pub cpu: String,
    /// RFC 3339 UTC time the record was produced.
    pub date: String,
    /// Seed of the random inputs the output was checked on.
    pub seed: u64,
    pub browser: Option<BrowserInfo>,
    /// Which invocation produced the record (one id per `accelbench run` or `native`), so the
    /// records of several runs in one file stay apart: between-run statistics treat each
    /// (run, round) as one unit. Absent in files from before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The round of a `--rounds N` run (0-based); absent for a run of one round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrowserInfo {
    pub name: String,
    pub version: String,
    pub user_agent: String,
    pub flags: Vec<String>,
    pub cross_origin_isolated: bool,
    /// The WebDriver endpoint that drove the browser, as given to `--webdriver-url` (a password
    /// in it hidden); absent where `accelbench` started a local driver itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webdriver: Option<String>,
}

/// Which of the catalogue's parameter sets a run uses: `quick` (small, fits software adapters'
/// limits, seconds per kernel) or `full` (the published shapes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    Quick,
    Full,
}

impl Size {
    pub fn name(self) -> &'static str {
        match self {
            Size::Quick => "quick",
            Size::Full => "full",
        }
    }
}
