//! Hardware recommendation: the stored targets (backend, adapter, machine) of one kernel or
//! model ranked per case by a measured figure with its interval, ties where intervals overlap,
//! each standing naming its evidence, and `no data` where a target never measured it.
//!
//! Nothing is extrapolated: a target is ranked only on cases it measured, from its newest
//! stored run (the state of the code now, not an average over its history).

use std::collections::{BTreeMap, BTreeSet};

use crate::history::{Metric, Stored, target_of};
use crate::schema::{NoData, Ranked, Recommendation, RecommendedCase, Series, Status};

/// What the user optimises for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    Latency,
    Throughput,
    Memory,
}

impl Goal {
    pub fn parse(s: &str) -> Option<Goal> {
        match s {
            "latency" => Some(Goal::Latency),
            "throughput" => Some(Goal::Throughput),
            "memory" => Some(Goal::Memory),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Goal::Latency => "latency",
            Goal::Throughput => "throughput",
            Goal::Memory => "memory",
        }
    }

    /// The stored metric that answers the goal. A kernel case's throughput is its fixed work
    /// over its time, so it ranks as time does; a model's is its decode rate. Memory is
    /// measured per model (kernels allocate what their case says).
    pub fn metric(self, model: bool) -> Result<Metric, &'static str> {
        match (self, model) {
            (Goal::Latency, _) | (Goal::Throughput, false) => Ok(Metric::Time),
            (Goal::Throughput, true) => Ok(Metric::TokensPerS),
            (Goal::Memory, true) => Ok(Metric::Memory),
            (Goal::Memory, false) => {
                Err("memory is measured per model, not per kernel: pass --model PRESET, or --for latency|throughput")
            }
        }
    }
}

type Target = (String, String, String);

/// Ranks `series` (the subject's, for `metric`) per case and dtype. `subject` holds the
/// subject's stored records of any status (for the reasons targets did not measure it), and
/// `known` records of any kernel, which say what targets the database knows.
pub fn recommend(
    subject: &str,
    goal: Goal,
    metric: Metric,
    series: &[Series],
    subject_rows: &[Stored],
    known: &[Stored],
) -> Recommendation {
    let higher = metric == Metric::TokensPerS;
    let mut cases: BTreeMap<(String, String), Vec<Ranked>> = BTreeMap::new();
    let mut measured: BTreeMap<Target, BTreeSet<(String, String)>> = BTreeMap::new();
    for s in series {
        let Some(p) = s.points.last() else { continue };
        let target = (s.backend.clone(), s.adapter.clone(), s.machine.clone());
        measured.entry(target).or_default().insert((s.case.clone(), s.dtype.clone()));
        cases.entry((s.case.clone(), s.dtype.clone())).or_default().push(Ranked {
            rank: 0,
            backend: s.backend.clone(),
            adapter: s.adapter.clone(),
            machine: s.machine.clone(),
            value: p.value,
            low: p.low,
            high: p.high,
            run_id: p.run_id.clone(),
            commit: p.commit.clone(),
            created_at: p.created_at.clone(),
            runs: s.points.len(),
        });
    }
    let better = |a: &Ranked, b: &Ranked| if higher { a.low > b.high } else { a.high < b.low };
    let cases: Vec<RecommendedCase> = cases
        .into_iter()
        .map(|((case, dtype), mut ranking)| {
            let ranks: Vec<usize> =
                ranking.iter().map(|me| 1 + ranking.iter().filter(|o| better(o, me)).count()).collect();
            for (r, rank) in ranking.iter_mut().zip(ranks) {
                r.rank = rank;
            }
            ranking.sort_by(|a, b| {
                let by_value = if higher { b.value.total_cmp(&a.value) } else { a.value.total_cmp(&b.value) };
                a.rank.cmp(&b.rank).then(by_value)
            });
            RecommendedCase { case, dtype, ranking }
        })
        .collect();

    // Why a target has no figure: the newest reason its runs gave for this subject, if any.
    let mut reasons: BTreeMap<Target, String> = BTreeMap::new();
    let mut rows: Vec<&Stored> = subject_rows.iter().collect();
    rows.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    for s in rows {
        let why = match &s.record.status {
            Status::Measured => continue,
            Status::Skipped { reason } => format!("skipped: {reason}"),
            Status::Mismatch { reason } => format!("mismatch (a wrong answer is never ranked): {reason}"),
            Status::Failed { reason } => format!("failed: {reason}"),
        };
        reasons.insert(target_of(&s.record), why);
    }
    let targets: BTreeSet<Target> =
        known.iter().chain(subject_rows).map(|s| target_of(&s.record)).chain(measured.keys().cloned()).collect();
    let mut no_data = Vec::new();
    for t in &targets {
        let (backend, adapter, machine) = t.clone();
        match measured.get(t) {
            None => {
                let reason = reasons.get(t).cloned().unwrap_or_else(|| format!("no data: never measured {subject}"));
                no_data.push(NoData { backend, adapter, machine, case: "*".into(), reason });
            }
            Some(have) => {
                for c in cases.iter().filter(|c| !have.contains(&(c.case.clone(), c.dtype.clone()))) {
                    no_data.push(NoData {
                        backend: backend.clone(),
                        adapter: adapter.clone(),
                        machine: machine.clone(),
                        case: format!("{} {}", c.case, c.dtype),
                        reason: "no data: this case was never measured here".into(),
                    });
                }
            }
        }
    }
    Recommendation {
        subject: subject.to_owned(),
        goal: goal.name().to_owned(),
        metric: metric.name().to_owned(),
        higher_is_better: higher,
        cases,
        no_data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::series;

    fn stored(run: usize, backend: &str, cpu: &str, median: f64, spread: f64) -> Stored {
        let xs: Vec<f64> = (0..40).map(|i| median * (1.0 + spread * (f64::from(i % 5) - 2.0) / 2.0)).collect();
        let mut r = crate::testing::timed("softmax", &[("rows", 8), ("cols", 64)], backend, &xs, "x");
        r.provenance.cpu = cpu.into();
        r.provenance.commit = format!("c{run}");
        Stored { run_id: format!("run-{run}"), created_at: format!("2026-12-01T00:{run:02}:00Z"), record: r }
    }

    #[test]
    fn targets_rank_by_interval_with_ties_evidence_and_no_data() {
        let mut rows = vec![
            // Machine A's CPU: an old slow run, then a fast one (the newest counts).
            stored(0, "native-cpu", "A", 5000.0, 0.01),
            stored(3, "native-cpu", "A", 1000.0, 0.01),
            // Machine B's CPU within A's noise: a tie.
            stored(1, "native-cpu", "B", 1001.0, 0.01),
            // A clearly slower target.
            stored(2, "native-wgpu-vulkan", "A", 3000.0, 0.01),
        ];
        let mut skipped = stored(4, "chrome-webgpu", "A", 1.0, 0.0);
        skipped.record.status = Status::Skipped { reason: "shader-f16 missing".into() };
        skipped.record.timing = None;
        let other_kernel = {
            let mut s = stored(5, "firefox-webgpu", "A", 1.0, 0.0);
            s.record.kernel = "gelu-tanh".into();
            s
        };
        rows.push(skipped.clone());
        let s = series(&rows, Metric::Time);
        let r = recommend("softmax", Goal::Latency, Metric::Time, &s, &rows, &[other_kernel]);
        assert_eq!(r.cases.len(), 1);
        let ranking = &r.cases[0].ranking;
        let got: Vec<(usize, &str)> = ranking.iter().map(|x| (x.rank, x.backend.as_str())).collect();
        assert_eq!(got, [(1, "native-cpu"), (1, "native-cpu"), (3, "native-wgpu-vulkan")], "{ranking:?}");
        assert_eq!(ranking[0].run_id, "run-3", "the newest run is the evidence");
        assert_eq!((ranking[0].runs, ranking[0].commit.as_str()), (2, "c3"));
        assert!(ranking[0].low <= ranking[1].high && ranking[1].low <= ranking[0].high, "tied means overlapping");
        let why: Vec<(&str, &str)> = r.no_data.iter().map(|n| (n.backend.as_str(), n.reason.as_str())).collect();
        assert_eq!(
            why,
            [("chrome-webgpu", "skipped: shader-f16 missing"), ("firefox-webgpu", "no data: never measured softmax")]
        );
    }

    #[test]
    fn rates_rank_highest_first_and_kernels_have_no_memory_figure() {
        assert_eq!(Goal::Throughput.metric(true), Ok(Metric::TokensPerS));
        assert_eq!(Goal::Throughput.metric(false), Ok(Metric::Time));
        assert!(Goal::Memory.metric(false).unwrap_err().contains("--model"));
        let rows = [stored(0, "native-cpu", "A", 1000.0, 0.01), stored(1, "native-cpu", "B", 2000.0, 0.01)];
        let mut s = series(&rows, Metric::Time);
        // The same points read as rates: the larger ranks first.
        for x in &mut s {
            x.metric = "tokens-per-s".into();
        }
        let r = recommend("m", Goal::Throughput, Metric::TokensPerS, &s, &rows, &[]);
        assert!(r.higher_is_better);
        assert!((r.cases[0].ranking[0].value - 2000.0).abs() < 1e-6);
        assert_eq!((r.cases[0].ranking[0].rank, r.cases[0].ranking[1].rank), (1, 2));
    }
}
