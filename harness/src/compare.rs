//! Regression verdicts: matching two runs' records by (kernel, case, dtype, backend, adapter) and
//! judging each pair by the bootstrap CI of the ratio of medians against a threshold, so noise
//! alone is never called a regression.

use crate::schema::{Record, Status};
use crate::stats::{RatioEstimate, Sample, Verdict, median_ratio};

/// What identifies "the same measurement" across runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MatchKey {
    pub kernel: String,
    pub case: String,
    pub dtype: String,
    pub backend: String,
    pub adapter: String,
}

impl MatchKey {
    pub fn of(r: &Record) -> MatchKey {
        MatchKey {
            kernel: r.kernel.clone(),
            case: r.case.clone(),
            dtype: r.dtype.clone(),
            backend: r.backend.clone(),
            adapter: r.adapter.as_ref().map_or_else(|| "-".to_owned(), |a| a.name.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Compared {
        base_median_ns: f64,
        cand_median_ns: f64,
        ratio: RatioEstimate,
        verdict: Verdict,
    },
    /// One side has no usable samples; the reason says which and why.
    NotComparable(String),
    OnlyInBase,
    OnlyInCandidate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub key: MatchKey,
    pub outcome: Outcome,
}

impl Comparison {
    pub fn is_regression(&self) -> bool {
        matches!(self.outcome, Outcome::Compared { verdict: Verdict::Slower, .. })
    }
}

fn samples(r: &Record) -> Result<Sample, String> {
    if r.status != Status::Measured {
        return Err(format!("{} in {}", r.status.label(), r.backend));
    }
    let t = r.timing.as_ref().ok_or_else(|| "measured record without timing".to_owned())?;
    Sample::new(&t.samples_ns).map_err(|e| e.to_string())
}

/// Compares candidate against base; `threshold` is relative (0.05 = 5%).
pub fn compare_runs(base: &[Record], cand: &[Record], threshold: f64) -> Vec<Comparison> {
    let mut out = Vec::new();
    for b in base {
        let key = MatchKey::of(b);
        let outcome = match cand.iter().find(|c| MatchKey::of(c) == key) {
            None => Outcome::OnlyInBase,
            Some(c) => match (samples(b), samples(c)) {
                (Ok(sb), Ok(sc)) => {
                    let ratio = median_ratio(&sb, &sc, 0.95, 2000);
                    Outcome::Compared {
                        base_median_ns: sb.median(),
                        cand_median_ns: sc.median(),
                        ratio,
                        verdict: Verdict::of(&ratio, threshold),
                    }
                }
                (Err(e), _) => Outcome::NotComparable(format!("base: {e}")),
                (_, Err(e)) => Outcome::NotComparable(format!("candidate: {e}")),
            },
        };
        out.push(Comparison { key, outcome });
    }
    for c in cand {
        let key = MatchKey::of(c);
        if !base.iter().any(|b| MatchKey::of(b) == key) {
            out.push(Comparison { key, outcome: Outcome::OnlyInCandidate });
        }
    }
    out
}

/// One record of a run set beside the same kernel and case on the native GPU and CPU backends of
/// the same run: the browser-versus-native view of `accelbench run`.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossRow<'a> {
    pub record: &'a Record,
    /// The native wgpu backend it is compared with (Vulkan, Metal, DX12, then GL).
    pub native_gpu: Option<&'a Record>,
    pub native_cpu: Option<&'a Record>,
    /// This median over the native GPU's (above 1: slower than native).
    pub vs_native_gpu: Option<f64>,
    /// native-cpu's median over this one (above 1: faster than native CPU code).
    pub speedup_vs_cpu: Option<f64>,
}

fn measured_median(r: &Record) -> Option<f64> {
    r.timing.as_ref().filter(|_| r.status == Status::Measured).map(|t| t.summary.median_ns)
}

/// Rows in the records' order, each with its native peers (same kernel, case and dtype).
pub fn cross_backend(records: &[Record]) -> Vec<CrossRow<'_>> {
    let peer = |r: &Record, pick: &dyn Fn(&str) -> Option<usize>| {
        records
            .iter()
            .filter(|n| n.kernel == r.kernel && n.case == r.case && n.dtype == r.dtype && n.size == r.size)
            .filter_map(|n| pick(&n.backend).map(|rank| (rank, n)))
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, n)| n)
    };
    let gpu_rank = |b: &str| {
        ["native-wgpu-vulkan", "native-wgpu-metal", "native-wgpu-dx12", "native-wgpu-gl"].iter().position(|x| *x == b)
    };
    let cpu_rank = |b: &str| (b == "native-cpu").then_some(0);
    records
        .iter()
        .map(|r| {
            let native_gpu = peer(r, &gpu_rank);
            let native_cpu = peer(r, &cpu_rank);
            let m = measured_median(r);
            let vs_native_gpu = match (m, native_gpu.and_then(measured_median)) {
                (Some(a), Some(b)) if b > 0.0 && native_gpu.is_some_and(|n| n.backend != r.backend) => Some(a / b),
                _ => None,
            };
            let speedup_vs_cpu = match (m, native_cpu.and_then(measured_median)) {
                (Some(a), Some(b)) if a > 0.0 && r.backend != "native-cpu" => Some(b / a),
                _ => None,
            };
            CrossRow { record: r, native_gpu, native_cpu, vs_native_gpu, speedup_vs_cpu }
        })
        .collect()
}
