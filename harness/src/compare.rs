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
