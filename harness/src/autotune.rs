//! Choosing among a kernel's implementations per device: the candidates are the variants whose
//! requirements the adapter meets; a short tuning pass times each (a few samples, any more than
//! [`DROP_RATIO`] times the leader's first sample dropped after it) and the fastest runs. Choices
//! are cached per (adapter and driver, kernel, candidate set, shape bucket), so a second run on
//! the same machine measures without tuning, and a changed shader or a new variant (a different
//! candidate set) invalidates the entry by changing its key. The tuning pass itself runs in
//! [`crate::gpu`], on the same [`crate::measure`] protocol as every measurement.

use std::sync::{Arc, Mutex};

use crate::catalogue::{Implementation, Kernel, Params};
use crate::measure::SamplingConfig;
use crate::schema::{AdapterReport, AutotuneTable, CandidateTiming, SCHEMA_VERSION, TunedEntry};

/// `--autotune`: whether to choose among variants, and whether earlier choices count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AutotuneMode {
    /// Always the kernel's own implementation.
    Off,
    /// An earlier choice where the cache has one, else tune and remember (the default).
    #[default]
    Cached,
    /// Tune every case, replacing what the cache held.
    Full,
}

impl AutotuneMode {
    pub const NAMES: [&'static str; 3] = ["off", "cached", "full"];

    pub fn parse(s: &str) -> Option<AutotuneMode> {
        match s {
            "off" => Some(AutotuneMode::Off),
            "cached" => Some(AutotuneMode::Cached),
            "full" => Some(AutotuneMode::Full),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AutotuneMode::Off => "off",
            AutotuneMode::Cached => "cached",
            AutotuneMode::Full => "full",
        }
    }
}

/// A candidate slower than this times the leader after the first tuning sample stops there.
pub const DROP_RATIO: f64 = 1.5;

/// The tuning pass's sampling: enough for a median that tells 1.5x apart, little time. Fewer
/// than five samples after two warm-ups chose wrongly on lavapipe (first samples run cold).
pub fn tuning_sampling() -> SamplingConfig {
    SamplingConfig {
        warmup: 2,
        min_samples: 5,
        max_samples: 5,
        target_rel_ci: 1.0,
        time_budget_ns: 0.3e9,
        min_resolutions_per_sample: 20.0,
    }
}

/// The choices made so far, shared by every case of a run (and, natively, saved between runs).
#[derive(Clone, Debug, Default)]
pub struct AutotuneCache {
    inner: Arc<Mutex<(AutotuneTable, bool)>>,
}

impl AutotuneCache {
    /// A cache holding `table`'s entries; entries of another schema version are dropped.
    pub fn new(table: AutotuneTable) -> AutotuneCache {
        let table = if table.schema_version == SCHEMA_VERSION {
            table
        } else {
            AutotuneTable { schema_version: SCHEMA_VERSION, ..AutotuneTable::default() }
        };
        AutotuneCache { inner: Arc::new(Mutex::new((table, false))) }
    }

    pub fn get(&self, key: &str) -> Option<TunedEntry> {
        self.lock().0.entries.get(key).cloned()
    }

    pub fn put(&self, key: String, entry: TunedEntry) {
        let mut g = self.lock();
        g.0.schema_version = SCHEMA_VERSION;
        g.0.entries.insert(key, entry);
        g.1 = true;
    }

    /// The table as it stands, for saving.
    pub fn table(&self) -> AutotuneTable {
        self.lock().0.clone()
    }

    /// Whether anything was tuned since [`AutotuneCache::new`].
    pub fn changed(&self) -> bool {
        self.lock().1
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (AutotuneTable, bool)> {
        // A panic while holding the lock leaves a table that is still whole (inserts are atomic).
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a run tells the GPU backends about variants.
#[derive(Clone, Debug, Default)]
pub struct AutotuneOptions {
    pub mode: AutotuneMode,
    pub cache: AutotuneCache,
}

impl AutotuneOptions {
    pub fn off() -> AutotuneOptions {
        AutotuneOptions { mode: AutotuneMode::Off, cache: AutotuneCache::default() }
    }
}

/// Parameters rounded up to powers of two: cases within a factor of two of each other share a
/// choice (the ranking of variants changes with the order of magnitude, not the last digit).
pub fn shape_bucket(p: &Params) -> String {
    p.values.iter().map(|(k, v)| format!("{k}~{}", v.max(&1).next_power_of_two())).collect::<Vec<_>>().join(",")
}

/// The cache key of `kernel` at `p` among `candidates` on `adapter`: a new driver, a changed
/// shader (its hash) or another candidate set is another key, so stale entries never apply.
pub fn key(adapter: &AdapterReport, kernel: &Kernel, candidates: &[Implementation], p: &Params) -> String {
    let set: Vec<String> = candidates.iter().map(|c| format!("{}@{}", c.variant, c.shader.hash)).collect();
    format!(
        "{}|{}:{}|{}|{}|{}|{}|{}",
        adapter.name,
        adapter.vendor,
        adapter.device,
        adapter.driver,
        adapter.driver_info,
        kernel.id,
        set.join("+"),
        shape_bucket(p)
    )
}

/// Which candidates stop after the first tuning sample: those more than [`DROP_RATIO`] times
/// the fastest first sample.
pub fn dropped_after_first(first_ns: &[Option<f64>]) -> Vec<bool> {
    let leader = first_ns.iter().flatten().copied().fold(f64::INFINITY, f64::min);
    first_ns.iter().map(|t| t.is_some_and(|t| t > DROP_RATIO * leader)).collect()
}

/// The winner: the candidate with the lowest median, `None` when none finished.
pub fn winner(timings: &[CandidateTiming]) -> Option<usize> {
    timings
        .iter()
        .enumerate()
        .filter(|(_, t)| t.note.is_none())
        .filter_map(|(i, t)| t.median_ns.map(|m| (i, m)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(variant: &str, median_ns: Option<f64>, note: Option<&str>) -> CandidateTiming {
        CandidateTiming { variant: variant.into(), median_ns, note: note.map(Into::into) }
    }

    #[test]
    fn the_fastest_finished_candidate_wins() {
        let ts = [t("default", Some(30.0), None), t("row", Some(10.0), None), t("x", Some(5.0), Some("dropped"))];
        assert_eq!(winner(&ts), Some(1));
        assert_eq!(winner(&[t("a", None, Some("mismatch"))]), None);
    }

    #[test]
    fn drops_what_is_over_one_and_a_half_times_the_leader() {
        assert_eq!(dropped_after_first(&[Some(10.0), Some(14.9), Some(15.1), None]), [false, false, true, false]);
    }

    #[test]
    fn buckets_round_up_to_powers_of_two() {
        let p = Params { case: "x".into(), values: vec![("rows", 64), ("cols", 1000)] };
        assert_eq!(shape_bucket(&p), "rows~64,cols~1024");
        let q = Params { case: "y".into(), values: vec![("rows", 33), ("cols", 513)] };
        assert_eq!(shape_bucket(&q), "rows~64,cols~1024");
    }

    #[test]
    fn a_cache_of_another_schema_version_starts_empty_and_tracks_changes() {
        let mut old = AutotuneTable { schema_version: 0, ..AutotuneTable::default() };
        old.entries.insert("k".into(), TunedEntry { variant: "row".into(), candidates: vec![] });
        let c = AutotuneCache::new(old);
        assert!(c.get("k").is_none() && !c.changed());
        c.put("k".into(), TunedEntry { variant: "default".into(), candidates: vec![] });
        assert_eq!(c.get("k").unwrap().variant, "default");
        assert!(c.changed() && c.table().schema_version == SCHEMA_VERSION);
    }
}
