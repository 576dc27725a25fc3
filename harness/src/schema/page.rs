//! The page bridge (`window.accelbench`): the only contract between the benchmark page and a
//! WebDriver runner. Both sides use these types; JSON crosses the bridge as text.

use serde::{Deserialize, Serialize};

use super::{AdapterReport, BrowserInfo, Size};

/// What a driver (or the page's own controls) asks the page to run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageRunConfig {
    /// Kernel ids or family names, or `all`; empty means the whole catalogue unless cases,
    /// sweeps or models are given (which then run alone).
    #[serde(default)]
    pub kernels: Vec<String>,
    /// Model presets (`accelbench models`), or `all`, run after the kernels at the run's size
    /// (`quick`: the small scale of each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// Prompt tokens of every model (default: 32 at quick, 512 at full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<usize>,
    /// Tokens each decoder generates one at a time (default: 16 at quick, 128 at full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<usize>,
    /// Weight precisions every model runs at (`f32`, `q8`, `q4`); empty: f32.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_weights: Vec<String>,
    /// User-defined cases, `KERNEL:key=value,...` (see `harness::cases`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<String>,
    /// Sweeps, `KERNEL:key=v1,v2,...` or ranges (see `harness::cases`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sweeps: Vec<String>,
    #[serde(default = "default_size")]
    pub size: Size,
    /// What to run on; several for both.
    #[serde(default = "default_page_backends")]
    pub backends: Vec<PageBackendChoice>,
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
    /// Modes to run (`inference`, `training`); empty means both.
    #[serde(default)]
    pub modes: Vec<String>,
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
    /// Run the cases (and the models) in an order shuffled with this seed: one round of a
    /// `--rounds N` run, so no case always runs at the same point of the suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shuffle: Option<u64>,
    /// Run only this share of the suite: with the cases, then the models, then the training
    /// steps in one list (after any shuffle), the items whose position modulo `count` is
    /// `index`. A driver spreading one browser's suite over several WebDriver endpoints gives
    /// each its own shard; together they run every item once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Fault injection for the runner's own tests: `hang:<kernel>` blocks the page's main thread
    /// when that kernel starts, `panic:<kernel>` panics there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// Which kernel variants WebGPU runs: `off`, `cached` (the default: an earlier choice kept
    /// in this browser's local storage, else tune and keep) or `full` (tune again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autotune: Option<String>,
}

/// One of `count` disjoint shares of a suite (see [`PageRunConfig::shard`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Whether the item at `position` of the suite's list belongs to this shard.
    pub fn holds(self, position: usize) -> bool {
        position % self.count == self.index
    }

    /// Refuses a shard that would hold nothing or everything by mistake.
    pub fn check(self) -> Result<Self, String> {
        if self.count == 0 || self.index >= self.count {
            return Err(format!(
                "shard index {} must be below its count {} (count at least 1)",
                self.index, self.count
            ));
        }
        Ok(self)
    }
}

/// The key a driver uses in [`PageRunConfig::skip`].
pub fn case_key(kernel: &str, case: &str, backend: &str) -> String {
    format!("{kernel}/{case}/{backend}")
}

fn default_size() -> Size {
    Size::Quick
}
fn default_page_backends() -> Vec<PageBackendChoice> {
    vec![PageBackendChoice::Auto]
}

/// Where the page runs a kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageBackendChoice {
    /// WebGPU when the browser has an adapter, else the WASM CPU path.
    Auto,
    Webgpu,
    /// The CPU reference compiled to WebAssembly (`<browser>-wasm` records).
    Wasm,
    /// WebNN (`<browser>-webnn` records), beside one of the others: one record per kernel of
    /// [`WEBNN_KERNELS`], `skipped` with the reason where the browser gives no WebNN context.
    Webnn,
}

/// The kernels WebNN's `MLGraphBuilder` has single operations for (matmul, softmax,
/// layerNormalization, gelu), the ones a `<browser>-webnn` record is made for.
pub const WEBNN_KERNELS: [&str; 4] = ["matmul-f32", "softmax", "layernorm", "gelu-erf"];

impl PageBackendChoice {
    pub const ALL: [PageBackendChoice; 4] =
        [PageBackendChoice::Auto, PageBackendChoice::Webgpu, PageBackendChoice::Wasm, PageBackendChoice::Webnn];

    pub fn as_str(self) -> &'static str {
        match self {
            PageBackendChoice::Auto => "auto",
            PageBackendChoice::Webgpu => "webgpu",
            PageBackendChoice::Wasm => "wasm",
            PageBackendChoice::Webnn => "webnn",
        }
    }
}

impl std::fmt::Display for PageBackendChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PageBackendChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| format!("page backend {s:?} is not `auto`, `webgpu`, `wasm` or `webnn`"))
    }
}

/// Where a page run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PagePhase {
    /// Detecting the environment (wasm loading, adapter request).
    Loading,
    /// Ready for `start()`.
    Idle,
    Running,
    Done,
    Cancelled,
    /// The run stopped; `PageState::error` says why.
    Error,
}

impl PagePhase {
    pub fn name(self) -> &'static str {
        match self {
            PagePhase::Loading => "loading",
            PagePhase::Idle => "idle",
            PagePhase::Running => "running",
            PagePhase::Done => "done",
            PagePhase::Cancelled => "cancelled",
            PagePhase::Error => "error",
        }
    }
}

impl std::fmt::Display for PagePhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
fn default_seed() -> u64 {
    1
}

impl Default for PageRunConfig {
    fn default() -> Self {
        PageRunConfig {
            kernels: vec![],
            models: vec![],
            prompt: None,
            generate: None,
            model_weights: vec![],
            cases: vec![],
            sweeps: vec![],
            size: default_size(),
            backends: default_page_backends(),
            seed: default_seed(),
            budget_s: None,
            min_samples: None,
            dtypes: vec![],
            modes: vec![],
            commit: None,
            flags: vec![],
            post: None,
            run_id: None,
            skip: vec![],
            shuffle: None,
            shard: None,
            fault: None,
            autotune: None,
        }
    }
}

/// Where a page run stands (`window.accelbench.state()`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageState {
    pub phase: PagePhase,
    pub run_id: Option<String>,
    /// Cases finished and planned (a case is one kernel and parameter set, or one model, on one
    /// backend).
    pub done: usize,
    pub total: usize,
    pub current: Option<PageProgress>,
    /// The `backend` labels this run's records carry (`chrome-webgpu`, `firefox-wasm`), in the
    /// order the page runs them; empty before a run starts. Drivers key cases by these.
    #[serde(default)]
    pub labels: Vec<String>,
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
    /// What the page got from WebNN (`navigator.ml`).
    #[serde(default)]
    pub webnn: WebnnSupport,
}

/// WebNN in this browser: whether `navigator.ml.createContext` gave a context, for which
/// device type asked, or why not.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WebnnSupport {
    /// The `deviceType` a context was created for (`gpu`, `npu`, `cpu`: the first that worked).
    pub context: Option<String>,
    /// Why there is none: no `navigator.ml`, or `createContext`'s error for each device type.
    pub missing: Option<String>,
}
