//! Result schema v1: the only serialisable types in accelbench, and the contract between the
//! native runner, the page, the server and anyone reading our JSON.
//!
//! Wire format: one [`Record`] per (kernel, parameters, dtype, backend), as JSON; streams are JSON
//! Lines. Within v1 only additive changes are allowed (new optional fields); readers must reject
//! an unknown `schema_version`. Times are nanoseconds as f64; throughput is derived, never
//! measured separately.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const SCHEMA_VERSION: u32 = 1;

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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColdTiming {
    /// Shader module and pipeline creation, host clock.
    pub pipeline_ns: Option<f64>,
    /// The first execution (setup excluded), host clock around submit and completion.
    pub first_run_ns: Option<f64>,
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
    pub limits: BTreeMap<String, u64>,
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
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrowserInfo {
    pub name: String,
    pub version: String,
    pub user_agent: String,
    pub flags: Vec<String>,
    pub cross_origin_isolated: bool,
}

/// Errors reading records produced elsewhere.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("{at}: not a schema v1 record: {source}")]
    Json { at: String, source: serde_json::Error },
    #[error("{at}: schema_version {found} is not supported (this build reads {SCHEMA_VERSION})")]
    Version { at: String, found: u32 },
    #[error("{at}: `{field}` is {value}, which no measurement can be")]
    BadNumber { at: String, field: &'static str, value: f64 },
}

impl Record {
    /// Rejects what no honest measurement produces: NaN, infinite or negative times.
    /// `at` says where the record came from in errors ("line 3", "records[2]").
    pub fn validate(&self, at: &str) -> Result<(), SchemaError> {
        if self.schema_version != SCHEMA_VERSION {
            return Err(SchemaError::Version { at: at.to_owned(), found: self.schema_version });
        }
        if let Some(t) = &self.timing {
            let s = &t.summary;
            for (field, v) in [("timing.summary.median_ns", s.median_ns), ("timing.summary.mean_ns", s.mean_ns)]
                .into_iter()
                .chain(t.samples_ns.iter().map(|&v| ("timing.samples_ns", v)))
            {
                if !v.is_finite() || v < 0.0 {
                    return Err(SchemaError::BadNumber { at: at.to_owned(), field, value: v });
                }
            }
        }
        Ok(())
    }
}

/// Parses JSON Lines of records, validating each; blank lines are ignored.
pub fn parse_jsonl(text: &str) -> Result<Vec<Record>, SchemaError> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let at = format!("line {}", i + 1);
        // Read the version first, so a v2 file says so instead of failing on a missing field.
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(l)
            && let Some(found) = v.get("schema_version").and_then(serde_json::Value::as_u64)
            && found != u64::from(SCHEMA_VERSION)
        {
            return Err(SchemaError::Version { at, found: found as u32 });
        }
        let r: Record = serde_json::from_str(l).map_err(|source| SchemaError::Json { at: at.clone(), source })?;
        r.validate(&at)?;
        out.push(r);
    }
    Ok(out)
}

/// Parses one record given as a JSON value (e.g. an element of an uploaded run), checking the
/// version first and then the numbers; `index` names it in errors.
pub fn record_from_value(v: serde_json::Value, index: usize) -> Result<Record, SchemaError> {
    let at = format!("records[{index}]");
    if let Some(found) = v.get("schema_version").and_then(serde_json::Value::as_u64)
        && found != u64::from(SCHEMA_VERSION)
    {
        return Err(SchemaError::Version { at, found: found as u32 });
    }
    let r: Record = serde_json::from_value(v).map_err(|source| SchemaError::Json { at: at.clone(), source })?;
    r.validate(&at)?;
    Ok(r)
}

// The page bridge (`window.accelbench`): the only contract between the benchmark page and a
// WebDriver runner. Both sides use these types; JSON crosses the bridge as text.

/// What a driver (or the page's own controls) asks the page to run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageRunConfig {
    /// Kernel ids or family names; empty means the whole catalogue (unless cases or sweeps are
    /// given, which then run alone).
    #[serde(default)]
    pub kernels: Vec<String>,
    /// User-defined cases, `KERNEL:key=value,...` (see `harness::cases`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<String>,
    /// Sweeps, `KERNEL:key=v1,v2,...` or ranges (see `harness::cases`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sweeps: Vec<String>,
    /// `quick` or `full`.
    #[serde(default = "default_size")]
    pub size: String,
    /// `auto` (WebGPU when the browser has it, else WASM), `webgpu`, `wasm`, or both as a list.
    #[serde(default = "default_page_backends")]
    pub backends: Vec<String>,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Per kernel and backend sampling budget, seconds (default: the size's).
    #[serde(default)]
    pub budget_s: Option<f64>,
    /// Minimum samples per kernel (default: the size's).
    #[serde(default)]
    pub min_samples: Option<usize>,
    /// Dtypes to run (`f32`, `f16`); empty means all.
    #[serde(default)]
    pub dtypes: Vec<String>,
    /// Suite commit, when the driver knows it better than the page's build did.
    #[serde(default)]
    pub commit: Option<String>,
    /// Browser flags or prefs the driver launched with, recorded in provenance.
    #[serde(default)]
    pub flags: Vec<String>,
    /// POST the finished run to the companion server (default: when the page was served by it).
    #[serde(default)]
    pub post: Option<bool>,
    #[serde(default)]
    pub run_id: Option<String>,
    /// Cases not to run, as `kernel/case/backend` (a driver resuming after a browser crash
    /// passes what it already has).
    #[serde(default)]
    pub skip: Vec<String>,
    /// Fault injection for the runner's own tests: `hang:<kernel>` blocks the page's main thread
    /// when that kernel starts, `panic:<kernel>` panics there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// The key a driver uses in [`PageRunConfig::skip`].
pub fn case_key(kernel: &str, case: &str, backend: &str) -> String {
    format!("{kernel}/{case}/{backend}")
}

fn default_size() -> String {
    "quick".into()
}
fn default_page_backends() -> Vec<String> {
    vec!["auto".into()]
}
fn default_seed() -> u64 {
    1
}

impl Default for PageRunConfig {
    fn default() -> Self {
        PageRunConfig {
            kernels: vec![],
            cases: vec![],
            sweeps: vec![],
            size: default_size(),
            backends: default_page_backends(),
            seed: default_seed(),
            budget_s: None,
            min_samples: None,
            dtypes: vec![],
            commit: None,
            flags: vec![],
            post: None,
            run_id: None,
            skip: vec![],
            fault: None,
        }
    }
}

/// Where a page run stands (`window.accelbench.state()`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageState {
    /// `loading`, `idle`, `running`, `done`, `cancelled` or `error`.
    pub phase: String,
    pub run_id: Option<String>,
    /// Cases finished and planned (a case is one kernel, parameter set and backend).
    pub done: usize,
    pub total: usize,
    pub current: Option<PageProgress>,
    /// Records produced so far; read them with `records(since)`.
    pub records: usize,
    pub elapsed_ms: f64,
    /// Why the run stopped, for `error`.
    pub error: Option<String>,
    /// Whether the companion server stored the run (`None` when not posted).
    pub posted: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageProgress {
    pub kernel: String,
    pub case: String,
    pub backend: String,
    pub samples: usize,
    pub elapsed_ms: f64,
}

/// What the page found in its browser (`window.accelbench.environment()`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageEnvironment {
    pub browser: BrowserInfo,
    /// The WebGPU adapter, when there is one.
    pub webgpu: Option<AdapterReport>,
    /// Why there is no WebGPU adapter and how to get one, when there is none.
    pub webgpu_missing: Option<String>,
    /// `performance.now()`'s resolution as measured on load, ns.
    pub host_clock_resolution_ns: f64,
    /// Served by the companion server (results can be stored there).
    pub server: bool,
    pub commit: String,
    /// Milliseconds from navigation start until the environment was known (wasm downloaded,
    /// compiled, adapter requested): the page's first-load time in this browser.
    #[serde(default)]
    pub ready_ms: f64,
}
