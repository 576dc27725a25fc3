//! The HTTP API's request and response bodies (`accelbench serve`, under `/api/v1`), the
//! backend list and the doctor's checks: what the server accepts and answers, so the server, the
//! page, the runner and tests share one definition instead of ad-hoc JSON.

use serde::{Deserialize, Serialize};

use super::{Record, SchemaError, record_from_value};

/// `GET /health`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`.
    pub status: String,
    pub version: String,
    /// Records stored, over all runs.
    pub records: i64,
}

/// Every error response: what went wrong and what to send instead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub error: String,
}

/// `POST /runs`: a finished run uploaded by the page or `accelbench run`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunUpload {
    /// 1-128 letters, digits or `- _ . :`; a retried upload with the same id stores nothing twice.
    pub id: String,
    /// Who measured it: `browser`, `run`, `native`, `client`.
    #[serde(default = "default_source")]
    pub source: String,
    pub records: Vec<Record>,
}

fn default_source() -> String {
    "client".into()
}

/// Why an upload was refused; each names the field and what to send.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the body is not valid JSON ({0}); send {{\"id\", \"records\": [...]}}")]
    NotJson(serde_json::Error),
    #[error("missing field `id` (a run id: letters, digits, - _ . :)")]
    MissingId,
    #[error("`id` {0:?} must be 1-128 letters, digits or - _ . :")]
    BadId(String),
    #[error("missing field `records` (an array of schema v1 records)")]
    MissingRecords,
    #[error(transparent)]
    Record(#[from] SchemaError),
}

impl UploadError {
    /// Malformed JSON is a bad request; well-formed JSON with bad content is unprocessable.
    pub fn is_syntax(&self) -> bool {
        matches!(self, UploadError::NotJson(_))
    }
}

/// Whether `id` may name a run.
pub fn valid_run_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
}

impl RunUpload {
    /// Parses and validates an upload field by field, so the error names the first bad one (and,
    /// for records, its index and whether only its schema version is wrong).
    pub fn from_json(body: &[u8]) -> Result<RunUpload, UploadError> {
        let mut v: serde_json::Value = serde_json::from_slice(body).map_err(UploadError::NotJson)?;
        let id = v.get("id").and_then(serde_json::Value::as_str).ok_or(UploadError::MissingId)?.to_owned();
        if !valid_run_id(&id) {
            return Err(UploadError::BadId(id));
        }
        let source = v.get("source").and_then(serde_json::Value::as_str).map_or_else(default_source, str::to_owned);
        // Taken out of the body rather than copied: a browser run is megabytes of records.
        let Some(serde_json::Value::Array(items)) = v.get_mut("records").map(serde_json::Value::take) else {
            return Err(UploadError::MissingRecords);
        };
        let records = items.into_iter().enumerate().map(|(i, r)| record_from_value(r, i)).collect::<Result<_, _>>()?;
        Ok(RunUpload { id, source, records })
    }
}

/// The answer to `POST /runs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunStored {
    pub id: String,
    /// False when a run with this id was already stored (nothing changed).
    pub stored: bool,
    pub records: usize,
    pub message: String,
}

/// Where a stored run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// A native run the server is still measuring; records appear as they are stored.
    Running,
    Done,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Failed => "failed",
        }
    }

    /// The stored spelling back; `None` for anything this build does not know.
    pub fn parse(s: &str) -> Option<RunStatus> {
        [RunStatus::Running, RunStatus::Done, RunStatus::Failed].into_iter().find(|r| r.as_str() == s)
    }
}

/// `GET /runs?kernel=&backend=&browser=&commit=&limit=`: filters, all optional, combined with
/// AND; `commit` matches a prefix, `limit` is 1-1000 (default 100).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunFilter {
    pub kernel: Option<String>,
    pub backend: Option<String>,
    pub browser: Option<String>,
    pub commit: Option<String>,
    pub limit: Option<i64>,
}

/// `GET /compare?base=&candidate=&threshold=`; `threshold` as `5%` or `0.05` (default 5%).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareQuery {
    pub base: String,
    pub candidate: String,
    pub threshold: Option<String>,
}

/// One line of `GET /runs` (newest first).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: String,
    pub created_at: String,
    pub source: String,
    pub status: RunStatus,
    pub commit: Option<String>,
    pub browser: Option<String>,
    pub records: i64,
}

/// A stored run's metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    pub id: String,
    pub created_at: String,
    pub source: String,
    pub status: RunStatus,
    /// Why a native run failed.
    pub message: Option<String>,
    pub commit: Option<String>,
    pub browser: Option<String>,
}

/// `GET /runs/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    pub run: RunMeta,
    pub records: Vec<Record>,
}

/// `POST /native/runs`: what `accelbench native` would be asked on its command line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NativeRunRequest {
    #[serde(default)]
    pub kernels: Vec<String>,
    /// `KERNEL:key=value,...`, as `accelbench native --case`.
    #[serde(default)]
    pub cases: Vec<String>,
    /// As `accelbench native --sweep`.
    #[serde(default)]
    pub sweeps: Vec<String>,
    #[serde(default)]
    pub quick: bool,
    #[serde(default = "default_native_backends")]
    pub backends: Vec<String>,
    #[serde(default)]
    pub adapter: Option<String>,
    #[serde(default = "one")]
    pub seed: u64,
    /// Seconds per kernel and backend.
    #[serde(default)]
    pub budget: Option<f64>,
}

fn default_native_backends() -> Vec<String> {
    vec!["wgpu".into(), "cpu".into(), "reference".into()]
}

fn one() -> u64 {
    1
}

/// The answer to `POST /native/runs`: poll `GET /runs/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NativeRunStarted {
    pub id: String,
    pub status: RunStatus,
}

/// The answer to `GET /compare`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareResponse {
    pub base: String,
    pub candidate: String,
    /// Relative change below which a difference is `same`.
    pub threshold: f64,
    pub matches: Vec<CompareRow>,
}

/// One matched (kernel, case, dtype, backend, adapter) of a comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareRow {
    pub kernel: String,
    pub case: String,
    pub dtype: String,
    pub backend: String,
    pub adapter: String,
    /// `faster`, `slower`, `same`, `inconclusive`, `not-comparable`, `only-in-base`,
    /// `only-in-candidate`.
    pub verdict: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_median_ns: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_median_ns: Option<f64>,
    /// Candidate over base (drift-corrected where enough kernels are common), with its 99%
    /// interval over the sides' runs (see `harness::compare`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_ci_low: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_ci_high: Option<f64>,
    /// The between-run spread the interval used (runs a side, spread, floor, drift removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<CompareSpread>,
    /// Why the pair is not comparable, or what would give a verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// How a comparison's interval was built (`harness::compare::Spread`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareSpread {
    pub runs_base: u32,
    pub runs_candidate: u32,
    /// Standard deviation of the runs' log medians used, about the between-run CV.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub between_run_sd: Option<f64>,
    /// The floor the interval was widened by, with one run a side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<f64>,
    /// How much the rest of the backend moved (candidate over base), divided out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<f64>,
    /// How unevenly the other kernels moved (sd of their log ratios beyond their noise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_sd: Option<f64>,
    pub raw_ratio: f64,
    /// Both sides measured together, compared round by round.
    #[serde(default)]
    pub paired: bool,
}

/// One native backend as probed here (`GET /backends`, `accelbench doctor`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackendStatus {
    /// The records' `backend` label, e.g. `native-wgpu-vulkan`, `native-cuda`.
    pub backend: String,
    pub available: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// A software adapter (lavapipe, SwiftShader, WARP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Why it is unavailable, and how to make it available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// One line of `accelbench doctor --json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DoctorCheck {
    pub what: String,
    pub ok: bool,
    pub detail: String,
    pub fix: String,
}

/// One line of `accelbench kernels --json`: a catalogue entry as users see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelInfo {
    pub id: String,
    pub family: String,
    pub dtype: String,
    /// `inference` or `training` (backward kernels, the loss, the optimiser step).
    #[serde(default)]
    pub mode: super::Mode,
    pub shader: String,
    pub shader_hash: String,
    pub entry_points: Vec<String>,
    pub requires: Vec<String>,
    pub tolerance: String,
    pub quick: Vec<CaseInfo>,
    pub full: Vec<CaseInfo>,
    /// What `--case`/`--sweep` accept for this kernel.
    pub parameters: Vec<ParamInfo>,
    pub summary: String,
    /// The implementations GPU backends choose among, the kernel's own (`default`) first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<VariantInfo>,
}

/// One implementation of a kernel, as `accelbench kernels --json` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantInfo {
    pub name: String,
    pub shader: String,
    pub shader_hash: String,
    pub requires: Vec<String>,
}

/// A named parameter set of the catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseInfo {
    pub case: String,
    pub params: std::collections::BTreeMap<String, u64>,
}

/// One parameter a kernel accepts, with its inclusive range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamInfo {
    pub name: String,
    pub min: u32,
    pub max: u32,
    pub doc: String,
}

/// `GET /series?kernel=&case=&backend=&machine=&adapter=&metric=&limit=` and `accelbench history`: which
/// stored series to read. Every field narrows; `metric` is `time` (default), `tokens-per-s` or
/// `memory`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesFilter {
    /// A kernel id or a model preset.
    pub kernel: Option<String>,
    pub case: Option<String>,
    pub backend: Option<String>,
    /// A machine fingerprint (or its prefix), as `accelbench history` prints it.
    pub machine: Option<String>,
    /// Part of the adapter's name, e.g. `llvmpipe`, `SwiftShader` (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    pub metric: Option<String>,
    /// The newest this many runs (default 200).
    pub limit: Option<i64>,
}

/// One stored run's point of a series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    pub run_id: String,
    pub created_at: String,
    pub commit: String,
    /// The metric's value (ns for time, tokens/s, bytes), over the run's rounds.
    pub value: f64,
    /// Its interval (99% over rounds, or the single round's bootstrap interval).
    pub low: f64,
    pub high: f64,
    pub rounds: u32,
}

/// Where a series moved, found by E-Divisive Means and kept when the step clears the runs' own
/// uncertainty and the metric's threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesChange {
    /// Index of the first point after the change.
    pub index: usize,
    pub run_id: String,
    pub commit: String,
    pub before: f64,
    pub after: f64,
    /// after / before.
    pub ratio: f64,
    pub p_value: f64,
}

/// One measurement's history: a (kernel, case, dtype, backend, adapter, machine) over runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub kernel: String,
    pub case: String,
    pub dtype: String,
    pub backend: String,
    pub adapter: String,
    pub machine: String,
    /// `time` (ns, lower is better), `tokens-per-s` (higher is better), `memory` (bytes).
    pub metric: String,
    pub points: Vec<SeriesPoint>,
    pub changes: Vec<SeriesChange>,
}

/// `accelbench recommend`'s answer: per case of one kernel or model, the stored targets
/// (backend, adapter, machine) ranked by the goal's figure, and what was never measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The kernel id or model preset.
    pub subject: String,
    /// `latency`, `throughput` or `memory`.
    pub goal: String,
    /// The series metric ranked: `time`, `tokens-per-s` or `memory`.
    pub metric: String,
    /// Whether a larger value ranks first (tokens/s).
    pub higher_is_better: bool,
    pub cases: Vec<RecommendedCase>,
    /// Targets in the database that never measured a case of the subject here, and why
    /// (`no data`, or the reason a run recorded for skipping it).
    pub no_data: Vec<NoData>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecommendedCase {
    pub case: String,
    pub dtype: String,
    /// Best first. Equal ranks are ties: their 99% intervals overlap.
    pub ranking: Vec<Ranked>,
}

/// One target's standing on a case, from its newest stored run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    /// 1 + the number of targets whose whole interval is better than this one's.
    pub rank: usize,
    pub backend: String,
    pub adapter: String,
    pub machine: String,
    pub value: f64,
    pub low: f64,
    pub high: f64,
    /// The evidence: the stored run the value comes from, its commit and time.
    pub run_id: String,
    pub commit: String,
    pub created_at: String,
    /// How many stored runs the target has of this case.
    pub runs: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoData {
    pub backend: String,
    pub adapter: String,
    pub machine: String,
    /// The case, or `*` when the target measured no case of the subject.
    pub case: String,
    pub reason: String,
}

/// `accelbench predict`'s answer: an unmeasured case's time from the roofline of its work
/// against the backend's measured peaks over an efficiency curve fitted on measured cases, with
/// the held-out error that says how far to trust it; or why it abstained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The kernel id or model preset.
    pub subject: String,
    pub case: String,
    pub dtype: String,
    pub backend: String,
    /// The machine fingerprint the evidence came from.
    pub machine: Option<String>,
    /// Predicted median time, ns.
    pub predicted_ns: Option<f64>,
    /// The held-out cases' extreme errors applied to the prediction (at least the prediction).
    pub low_ns: Option<f64>,
    pub high_ns: Option<f64>,
    /// Time at the practical peaks, ns, and which bound it is (`memory`, `compute`).
    pub roofline_ns: Option<f64>,
    pub bound: Option<String>,
    /// The fitted share of the roofline this case would reach.
    pub efficiency: Option<f64>,
    pub peak_gbps: Option<f64>,
    pub peak_gflops: Option<f64>,
    /// The measured cases the curve was fitted on (`kernel case`).
    pub fitted_on: Vec<String>,
    /// How many measured cases were each predicted from the others, and the median absolute
    /// percentage error of those predictions (0.1: 10%).
    pub held_out: u32,
    pub held_out_mdape: Option<f64>,
    /// The case's own measured median, where it was measured (held out of the fit).
    pub measured_ns: Option<f64>,
    /// Run ids of the evidence.
    pub evidence: Vec<String>,
    /// Why nothing was predicted (out of the measured range, too few cases, no peaks).
    pub abstained: Option<String>,
}
