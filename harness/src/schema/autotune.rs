//! What the autotuner records: on each GPU record, the variant that ran and how it was chosen;
//! on disk (natively) and in the page's storage, the choices already tuned.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How a record's variant was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AutotuneHow {
    /// `--autotune off`: the kernel's own implementation.
    Off,
    /// The only implementation this adapter can run: nothing to choose.
    Only,
    /// Chosen by a tuning pass in this run.
    Tuned,
    /// Chosen by an earlier tuning pass on the same adapter, driver, candidates and shape bucket.
    CacheHit,
    /// Named by the caller (a test or `--variant`).
    Fixed,
}

/// One candidate of a tuning pass.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateTiming {
    pub variant: String,
    /// Median of the tuning samples, ns per execution; absent where it did not finish.
    pub median_ns: Option<f64>,
    /// Why it was not timed to the end: dropped as more than 1.5x the leader, a mismatch, a
    /// failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How a GPU record's variant was chosen (added within v1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Autotune {
    pub how: AutotuneHow,
    /// The cache key: adapter and driver, kernel, candidate set checksum, shape bucket.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// The tuning pass (this run's, or the cached one's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<CandidateTiming>,
}

/// The tuned choices, keyed as [`Autotune::key`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AutotuneTable {
    pub schema_version: u32,
    pub entries: BTreeMap<String, TunedEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TunedEntry {
    pub variant: String,
    pub candidates: Vec<CandidateTiming>,
}
