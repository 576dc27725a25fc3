//! History: stored runs as series (one point per run for each kernel, case, dtype, backend,
//! adapter and machine), with each run's rounds combined and change points found over the
//! points; and the machine fingerprint that keeps different machines' series apart.

use std::collections::BTreeMap;

use crate::changepoint::{self, Point, Settings};
use crate::schema::{Record, Series, SeriesChange, SeriesPoint, Status};
use crate::stats::{normal_quantile, student_t_quantile};

/// A record as stored: its run and when the run was stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub run_id: String,
    pub created_at: String,
    pub record: Record,
}

/// What a series follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Median time, ns.
    Time,
    /// A model's decode rate.
    TokensPerS,
    /// A model's device memory, bytes.
    Memory,
}

impl Metric {
    pub fn parse(s: &str) -> Option<Metric> {
        match s {
            "time" => Some(Metric::Time),
            "tokens-per-s" => Some(Metric::TokensPerS),
            "memory" => Some(Metric::Memory),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::Time => "time",
            Metric::TokensPerS => "tokens-per-s",
            Metric::Memory => "memory",
        }
    }

    /// The smallest step reported as a change: timings and rates move with the machine, so 5%;
    /// memory is allocated, not measured, so any 1% step is real.
    pub fn threshold(self) -> f64 {
        match self {
            Metric::Time | Metric::TokensPerS => 0.05,
            Metric::Memory => 0.01,
        }
    }

    /// A value of this metric as people read it: a time, a rate or MiB.
    pub fn format(self, v: f64) -> String {
        match self {
            Metric::Time => crate::format::fmt_ns(v),
            Metric::TokensPerS => format!("{v:.1} tok/s"),
            Metric::Memory => format!("{:.1} MiB", v / (1024.0 * 1024.0)),
        }
    }

    /// The value and its relative standard error in one record, if it has this metric.
    fn of(self, r: &Record) -> Option<(f64, f64)> {
        if r.status != Status::Measured {
            return None;
        }
        match self {
            Metric::Time => {
                let s = &r.timing.as_ref()?.summary;
                Some((s.median_ns, crate::stats::log_median_se(s)))
            }
            Metric::TokensPerS => r.model.as_ref()?.decode_tokens_per_s.map(|v| (v, 0.0)),
            Metric::Memory => r.model.as_ref().map(|m| (m.device_bytes.total as f64, 0.0)),
        }
    }
}

/// The machine a record was measured on, as a short stable hash: host OS, architecture and
/// CPU, the adapter with its driver, and the browser with its version. Runs on one machine
/// share it; any change of hardware, driver or browser starts a new series.
pub fn machine_fingerprint(r: &Record) -> String {
    let p = &r.provenance;
    let mut parts = vec![p.os.as_str(), p.arch.as_str(), p.cpu.as_str()];
    if let Some(a) = &r.adapter {
        parts.extend([a.name.as_str(), a.driver.as_str(), a.driver_info.as_str()]);
    }
    if let Some(b) = &p.browser {
        parts.extend([b.name.as_str(), b.version.as_str()]);
    }
    // FNV-1a: stable across platforms and builds, which std's hasher is not.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{:012x}", h >> 16)
}

/// Where a record was measured: its backend, adapter name (`-` for none) and machine
/// fingerprint; a series is one kernel case's history on one such target.
pub fn target_of(r: &Record) -> (String, String, String) {
    let adapter = r.adapter.as_ref().map_or_else(|| "-".to_owned(), |a| a.name.clone());
    (r.backend.clone(), adapter, machine_fingerprint(r))
}

type SeriesKey = (String, String, String, String, String, String);
/// A run of a series being gathered: its id, stored time, commit and its rounds' values.
type RunValues = (String, String, String, Vec<(f64, f64)>);

/// Series of `rows` (any order) for `metric`, points in stored order, with change points.
pub fn series(rows: &[Stored], metric: Metric) -> Vec<Series> {
    let mut rows: Vec<&Stored> = rows.iter().collect();
    rows.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    // Per series, per run (in order): the rounds' values.
    let mut groups: BTreeMap<SeriesKey, Vec<RunValues>> = BTreeMap::new();
    for s in rows {
        let r = &s.record;
        let Some(v) = metric.of(r) else { continue };
        let (backend, adapter, machine) = target_of(r);
        let key = (r.kernel.clone(), r.case.clone(), r.dtype.clone(), backend, adapter, machine);
        let runs = groups.entry(key).or_default();
        match runs.iter_mut().find(|(id, ..)| *id == s.run_id) {
            Some((.., vals)) => vals.push(v),
            None => runs.push((s.run_id.clone(), s.created_at.clone(), r.provenance.commit.clone(), vec![v])),
        }
    }
    groups
        .into_iter()
        .map(|((kernel, case, dtype, backend, adapter, machine), runs)| {
            let points: Vec<SeriesPoint> = runs
                .into_iter()
                .map(|(run_id, created_at, commit, vals)| {
                    let (value, low, high) = combine(&vals);
                    SeriesPoint { run_id, created_at, commit, value, low, high, rounds: vals.len() as u32 }
                })
                .collect();
            let cp: Vec<Point> = points
                .iter()
                .map(|p| Point {
                    value: p.value,
                    rel_se: if p.low > 0.0 { (p.high.ln() - p.low.ln()) / (2.0 * normal_quantile(0.995)) } else { 0.0 },
                })
                .collect();
            let settings = Settings { threshold: metric.threshold(), ..Settings::default() };
            let changes = changepoint::detect(&cp, &settings)
                .into_iter()
                .map(|c| SeriesChange {
                    index: c.index,
                    run_id: points[c.index].run_id.clone(),
                    commit: points[c.index].commit.clone(),
                    before: c.before,
                    after: c.after,
                    ratio: c.ratio(),
                    p_value: c.p_value,
                })
                .collect();
            Series { kernel, case, dtype, backend, adapter, machine, metric: metric.name().to_owned(), points, changes }
        })
        .collect()
}

/// One run's value and 99% interval from its rounds: the geometric mean with a t interval
/// over rounds, or one round's own interval.
fn combine(vals: &[(f64, f64)]) -> (f64, f64, f64) {
    let logs: Vec<f64> = vals.iter().map(|(v, _)| v.max(f64::MIN_POSITIVE).ln()).collect();
    let n = logs.len() as f64;
    let m = logs.iter().sum::<f64>() / n;
    let se = if logs.len() > 1 {
        let var = logs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
        (var / n).sqrt() * student_t_quantile(0.995, n - 1.0)
    } else {
        vals[0].1 * normal_quantile(0.995)
    };
    (m.exp(), (m - se).exp(), (m + se).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(run: usize, median: f64) -> Stored {
        let xs: Vec<f64> = (0..20).map(|i| median * (1.0 + 0.001 * f64::from(i % 3))).collect();
        let mut r = crate::testing::timed("softmax", &[("rows", 8), ("cols", 64)], "native-cpu", &xs, "x");
        r.provenance.commit = format!("c{run}");
        Stored { run_id: format!("run-{run:03}"), created_at: format!("2026-12-01T00:{:02}:00Z", run), record: r }
    }

    #[test]
    fn a_series_is_one_point_per_run_and_finds_the_commit_that_moved_it() {
        let mut rows: Vec<Stored> = (0..24).map(|i| stored(i, if i < 14 { 1000.0 } else { 1300.0 })).collect();
        // Stored out of order, with a second round in one run.
        rows.reverse();
        rows.push(stored(3, 1002.0));
        let s = series(&rows, Metric::Time);
        assert_eq!(s.len(), 1);
        let s = &s[0];
        assert_eq!(s.points.len(), 24);
        assert_eq!(s.points[3].rounds, 2);
        assert_eq!(s.points[0].run_id, "run-000");
        assert_eq!(s.changes.len(), 1, "{:?}", s.changes);
        assert_eq!((s.changes[0].index, s.changes[0].commit.as_str()), (14, "c14"));
        assert!((s.changes[0].ratio - 1.3).abs() < 0.01);
    }

    #[test]
    fn machines_are_told_apart_by_their_fingerprint() {
        let a = stored(0, 1.0);
        let mut b = stored(1, 1.0);
        assert_eq!(machine_fingerprint(&a.record), machine_fingerprint(&b.record));
        b.record.provenance.cpu = "another CPU".into();
        assert_ne!(machine_fingerprint(&a.record), machine_fingerprint(&b.record));
        assert_eq!(series(&[a, b], Metric::Time).len(), 2);
    }
}
