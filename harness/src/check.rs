//! Comparing a backend's output with the CPU reference under a named tolerance. A wrong answer is
//! a mismatch with the worst element named, never a timing.

use crate::schema::{CheckReport, F32Error};

/// |actual - expected| <= abs + rel * |expected|, element by element. NaN never passes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    pub abs: f32,
    pub rel: f32,
}

impl Tolerance {
    /// Exact-ish elementwise maths in f32 (a few ulps of difference from f64 rounding).
    pub const STRICT: Tolerance = Tolerance { abs: 1e-6, rel: 1e-5 };
    /// Reductions in f32 over up to thousands of terms (GEMM, norms, softmax).
    pub const BALANCED: Tolerance = Tolerance { abs: 1e-4, rel: 1e-3 };
    /// Chained reductions with exp() in f32 (attention, spectra in the log domain).
    pub const PERMISSIVE: Tolerance = Tolerance { abs: 2e-3, rel: 1e-2 };
    /// fp16 storage: 11-bit mantissa on inputs and outputs.
    pub const HALF: Tolerance = Tolerance { abs: 1e-2, rel: 1e-2 };

    pub fn name(&self) -> &'static str {
        match *self {
            Self::STRICT => "strict",
            Self::BALANCED => "balanced",
            Self::PERMISSIVE => "permissive",
            Self::HALF => "half",
            _ => "custom",
        }
    }
}

/// `actual` against the f32 result of the same operation (a reduced-precision kernel's
/// accuracy cost); lengths are equal for any output that passed its check.
pub fn error_vs_f32(actual: &[f32], f32_result: &[f32]) -> F32Error {
    let n = actual.len().min(f32_result.len()).max(1) as f64;
    let (mut max_abs, mut sq, mut ref_sq) = (0f64, 0f64, 0f64);
    for (&a, &r) in actual.iter().zip(f32_result) {
        let d = (f64::from(a) - f64::from(r)).abs();
        max_abs = max_abs.max(d);
        sq += d * d;
        ref_sq += f64::from(r) * f64::from(r);
    }
    let rms = (sq / n).sqrt();
    let ref_rms = (ref_sq / n).sqrt();
    F32Error { max_abs_err: max_abs, rms_err: rms, rel_rms_err: if ref_rms > 0.0 { rms / ref_rms } else { 0.0 } }
}

/// Compares element by element; `passed` is false on any NaN, length mismatch or excess error.
pub fn compare(actual: &[f32], expected: &[f32], tol: Tolerance) -> CheckReport {
    let mut report = CheckReport {
        passed: actual.len() == expected.len(),
        tolerance: tol.name().to_owned(),
        abs_tolerance: f64::from(tol.abs),
        rel_tolerance: f64::from(tol.rel),
        max_abs_err: 0.0,
        max_rel_err: 0.0,
        worst_index: None,
        worst_expected: None,
        worst_actual: None,
        failing_elements: 0,
        elements: expected.len() as u64,
        vs_f32: None,
    };
    if !report.passed {
        report.failing_elements = expected.len().abs_diff(actual.len()) as u64;
        return report;
    }
    let mut worst_excess = f64::NEG_INFINITY;
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let (a64, e64) = (f64::from(a), f64::from(e));
        let err = (a64 - e64).abs();
        let allowed = f64::from(tol.abs) + f64::from(tol.rel) * e64.abs();
        // NaN compares false everywhere: treat it as infinitely wrong.
        let excess = if err.is_nan() { f64::INFINITY } else { err - allowed };
        if err.is_nan() || err > allowed {
            report.failing_elements += 1;
        }
        if !err.is_nan() {
            report.max_abs_err = report.max_abs_err.max(err);
            if e64 != 0.0 {
                report.max_rel_err = report.max_rel_err.max(err / e64.abs());
            }
        }
        if excess > worst_excess {
            worst_excess = excess;
            report.worst_index = Some(i as u64);
            report.worst_expected = Some(e64);
            report.worst_actual = if a.is_nan() { None } else { Some(a64) };
        }
    }
    report.passed = report.failing_elements == 0;
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_and_excess_fail_with_the_worst_element_named() {
        let r = compare(&[1.0, f32::NAN, 3.0], &[1.0, 2.0, 3.0], Tolerance::STRICT);
        assert!(!r.passed);
        assert_eq!((r.failing_elements, r.worst_index), (1, Some(1)));
        let r = compare(&[1.0, 2.5, 3.0], &[1.0, 2.0, 3.0], Tolerance::BALANCED);
        assert_eq!((r.passed, r.worst_index), (false, Some(1)));
        assert!((r.max_abs_err - 0.5).abs() < 1e-12);
    }

    #[test]
    fn within_tolerance_passes_and_length_mismatch_fails() {
        assert!(compare(&[1.0005], &[1.0], Tolerance::BALANCED).passed);
        assert!(!compare(&[1.0], &[1.0, 2.0], Tolerance::BALANCED).passed);
    }
}
