//! Performance prediction for a case nobody measured: the roofline of its FLOP and byte counts
//! against the backend's measured practical peaks (the `peak` family's records), divided by an
//! efficiency curve (log efficiency linear in log work) fitted on the measured cases of the same
//! family, dtype and mode on that backend and machine; validated by holding each measured case
//! out in turn (median absolute percentage error); abstaining, with the reason, outside the
//! measured range or without enough evidence. Nothing is extrapolated silently.

use std::collections::BTreeMap;

use crate::history::{Stored, machine_fingerprint};
use crate::schema::{Mode, Prediction, Record, Status, Work};

/// What is to be predicted: a kernel case or a model at a scale, with its work count.
#[derive(Debug, Clone)]
pub struct Target {
    /// The kernel id or model preset.
    pub subject: String,
    pub case: String,
    pub family: String,
    pub dtype: String,
    pub mode: Mode,
    /// The parameters whose measured range bounds the prediction (kernels); models are bounded
    /// by their work instead.
    pub params: BTreeMap<String, u64>,
    pub work: Work,
    pub backend: String,
}

/// The fewest measured cases an efficiency curve is fitted on.
pub const MIN_CASES: usize = 3;

/// The backend's practical peaks: the newest `peak-bandwidth` and FMA records of its
/// machine (`peak-fma-f16` for f16 subjects, else `peak-fma-f32`).
fn peaks(peak_records: &[&Stored], dtype: &str) -> (Option<f64>, Option<f64>) {
    let newest =
        |kernel: &str| peak_records.iter().rev().find(|s| s.record.kernel == kernel).and_then(|s| s.record.throughput);
    let fma = if dtype == "f16" { "peak-fma-f16" } else { "peak-fma-f32" };
    (newest("peak-bandwidth").map(|t| t.gbps), newest(fma).map(|t| t.gflops))
}

/// Roofline time in ns: the larger of compute at the FMA peak and traffic at the copy peak
/// (GFLOP/s and GB/s are flops and bytes per ns). `None` without either peak.
fn roofline(w: &Work, gbps: Option<f64>, gflops: Option<f64>) -> Option<(f64, &'static str)> {
    let mem = gbps.filter(|g| *g > 0.0).map(|g| w.bytes / g);
    let comp = gflops.filter(|g| *g > 0.0).map(|g| w.flops / g);
    match (mem, comp) {
        (Some(m), Some(c)) => Some(if c >= m { (c, "compute") } else { (m, "memory") }),
        (Some(m), None) => Some((m, "memory")),
        (None, Some(c)) => Some((c, "compute")),
        (None, None) => None,
    }
}

fn size(w: &Work) -> f64 {
    (w.flops + w.bytes).max(1.0).ln()
}

/// Least squares `y = a + b x`; a flat line through the mean when every x is equal.
fn fit(pts: &[(f64, f64)]) -> (f64, f64) {
    let n = pts.len() as f64;
    let (mx, my) = (pts.iter().map(|p| p.0).sum::<f64>() / n, pts.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let b = if sxx > 1e-12 { sxy / sxx } else { 0.0 };
    (my - b * mx, b)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// One measured case the curve is fitted on.
struct Observed<'a> {
    record: &'a Record,
    run_id: &'a str,
    roof_ns: f64,
}

/// Predicts `target` from `stored` (the subject family's records and the peak records, any
/// order), on `machine` (a fingerprint prefix) or the one machine that ran the backend.
pub fn predict(target: &Target, stored: &[Stored], machine: Option<&str>) -> Prediction {
    let mut p = Prediction {
        subject: target.subject.clone(),
        case: target.case.clone(),
        dtype: target.dtype.clone(),
        backend: target.backend.clone(),
        machine: None,
        predicted_ns: None,
        low_ns: None,
        high_ns: None,
        roofline_ns: None,
        bound: None,
        efficiency: None,
        peak_gbps: None,
        peak_gflops: None,
        fitted_on: Vec::new(),
        held_out: 0,
        held_out_mdape: None,
        measured_ns: None,
        evidence: Vec::new(),
        abstained: None,
    };
    let on_backend: Vec<&Stored> = stored
        .iter()
        .filter(|s| s.record.backend == target.backend && s.record.status == Status::Measured)
        .filter(|s| machine.is_none_or(|m| machine_fingerprint(&s.record).starts_with(m)))
        .collect();
    let subject_like = |r: &Record| r.family == target.family && r.dtype == target.dtype && r.mode == target.mode;
    let mut machines: Vec<String> =
        on_backend.iter().filter(|s| subject_like(&s.record)).map(|s| machine_fingerprint(&s.record)).collect();
    machines.sort();
    machines.dedup();
    let chosen = match machines.as_slice() {
        [] => {
            p.abstained = Some(format!(
                "no measured {} {} ({}) record on {}{}; measure some shapes first (e.g. `accelbench native --sweep`)",
                target.family,
                target.dtype,
                target.mode.name(),
                target.backend,
                machine.map_or(String::new(), |m| format!(" on machine {m}"))
            ));
            return p;
        }
        [one] => one.clone(),
        many => {
            p.abstained = Some(format!(
                "{} ran on {} machines ({}); pass --machine with one of them",
                target.backend,
                many.len(),
                many.iter().map(|m| m.chars().take(12).collect::<String>()).collect::<Vec<_>>().join(", ")
            ));
            return p;
        }
    };
    p.machine = Some(chosen.clone());
    let mine: Vec<&Stored> = on_backend.into_iter().filter(|s| machine_fingerprint(&s.record) == chosen).collect();
    let peak_records: Vec<&Stored> = mine.iter().copied().filter(|s| s.record.family == "peak").collect();
    let (gbps, gflops) = peaks(&peak_records, &target.dtype);
    (p.peak_gbps, p.peak_gflops) = (gbps, gflops);
    let Some((roof, bound)) = roofline(&target.work, gbps, gflops) else {
        p.abstained = Some(format!(
            "no practical peak measured for {} on this machine; run `accelbench native --kernels peak` on it first",
            target.backend
        ));
        return p;
    };
    (p.roofline_ns, p.bound) = (Some(roof), Some(bound.to_owned()));

    // The newest record per (kernel, case); the target's own case, if measured, is held apart
    // so it validates the prediction instead of feeding it.
    let mut newest: BTreeMap<(&str, &str), &Stored> = BTreeMap::new();
    for s in mine.iter().copied().filter(|s| subject_like(&s.record) && s.record.timing.is_some()) {
        newest.insert((s.record.kernel.as_str(), s.record.case.as_str()), s);
    }
    let same_case = |r: &Record| {
        r.kernel == target.subject && (r.case == target.case || (!r.params.is_empty() && r.params == target.params))
    };
    p.measured_ns = newest
        .values()
        .find(|s| same_case(&s.record))
        .and_then(|s| s.record.timing.as_ref())
        .map(|t| t.summary.median_ns);
    let observed: Vec<Observed<'_>> = newest
        .values()
        .filter(|s| !same_case(&s.record))
        .filter_map(|s| {
            let (roof_ns, _) = roofline(&s.record.work, gbps, gflops)?;
            Some(Observed { record: &s.record, run_id: &s.run_id, roof_ns })
        })
        .collect();

    // The measured range: each parameter over the subject's own cases (kernels), the work
    // over the family's (models).
    if target.family == "model" {
        let works: Vec<f64> = observed.iter().map(|o| o.record.work.flops).collect();
        let (lo, hi) = works.iter().fold((f64::INFINITY, 0.0f64), |(a, b), w| (a.min(*w), b.max(*w)));
        if !works.is_empty() && !(lo..=hi).contains(&target.work.flops) {
            p.abstained = Some(format!(
                "{:.3e} FLOPs is outside the measured models' range {lo:.3e}..{hi:.3e}; measure a model on each side of it",
                target.work.flops
            ));
            return p;
        }
    } else {
        let own: Vec<&Observed<'_>> = observed.iter().filter(|o| o.record.kernel == target.subject).collect();
        if own.is_empty() {
            p.abstained = Some(format!(
                "{} was never measured on {} here (only other {} kernels); measure a few of its shapes first",
                target.subject, target.backend, target.family
            ));
            return p;
        }
        for (key, v) in &target.params {
            let vals: Vec<u64> = own.iter().filter_map(|o| o.record.params.get(key).copied()).collect();
            let (lo, hi) = (vals.iter().min().copied().unwrap_or(0), vals.iter().max().copied().unwrap_or(0));
            if !vals.is_empty() && !(lo..=hi).contains(v) {
                p.abstained = Some(format!(
                    "{key}={v} is outside the measured range {key}={lo}..{hi} of {} on {}; measure that far first",
                    target.subject, target.backend
                ));
                return p;
            }
        }
    }
    if observed.len() < MIN_CASES {
        p.abstained = Some(format!(
            "{} measured {} {} case(s) on {}; the efficiency curve needs {MIN_CASES} (add shapes with --sweep)",
            observed.len(),
            target.family,
            target.dtype,
            target.backend
        ));
        return p;
    }

    let pts: Vec<(f64, f64)> = observed
        .iter()
        .map(|o| {
            (
                size(&o.record.work),
                (o.roof_ns / o.record.timing.as_ref().map_or(f64::NAN, |t| t.summary.median_ns)).ln(),
            )
        })
        .collect();
    let (a, b) = fit(&pts);
    let eff = (a + b * size(&target.work)).exp();
    // Held out one at a time: each case predicted from the others; ln(measured / predicted).
    let errors: Vec<f64> = (0..pts.len())
        .map(|i| {
            let rest: Vec<(f64, f64)> = pts.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, q)| *q).collect();
            let (ai, bi) = fit(&rest);
            let predicted = observed[i].roof_ns / (ai + bi * pts[i].0).exp();
            (observed[i].record.timing.as_ref().map_or(f64::NAN, |t| t.summary.median_ns) / predicted).ln()
        })
        .collect();
    let predicted = roof / eff;
    p.predicted_ns = Some(predicted);
    p.efficiency = Some(eff);
    p.low_ns = Some(predicted * errors.iter().copied().fold(f64::INFINITY, f64::min).exp().min(1.0));
    p.high_ns = Some(predicted * errors.iter().copied().fold(f64::NEG_INFINITY, f64::max).exp().max(1.0));
    p.held_out = errors.len() as u32;
    p.held_out_mdape = Some(median(errors.iter().map(|e| (e.exp() - 1.0).abs()).collect()));
    p.fitted_on = observed.iter().map(|o| format!("{} {}", o.record.kernel, o.record.case)).collect();
    let mut runs: Vec<String> = observed.iter().map(|o| o.run_id.to_owned()).collect();
    runs.sort();
    runs.dedup();
    p.evidence = runs;
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_fits_exactly_and_a_flat_one_when_x_does_not_vary() {
        let (a, b) = fit(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]);
        assert!((a - 1.0).abs() < 1e-12 && (b - 2.0).abs() < 1e-12);
        let (a, b) = fit(&[(1.0, 1.0), (1.0, 3.0)]);
        assert!((a - 2.0).abs() < 1e-12 && b == 0.0);
    }

    #[test]
    fn the_roofline_takes_the_slower_bound() {
        let w = Work { flops: 1e9, bytes: 1e6 };
        assert_eq!(roofline(&w, Some(10.0), Some(100.0)), Some((1e7, "compute")));
        let w = Work { flops: 1e6, bytes: 1e9 };
        assert_eq!(roofline(&w, Some(10.0), Some(100.0)), Some((1e8, "memory")));
        assert_eq!(roofline(&w, None, None), None);
    }
}
