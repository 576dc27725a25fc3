//! Statistics as pure types: a validated [`Sample`], its [`Summary`](crate::schema::Summary),
//! bootstrap confidence intervals of the median, Tukey outliers, and the ratio of two samples'
//! medians with its interval. No I/O, no clocks: everything here is a function of its input.

use crate::rng::InputRng;
use crate::schema::{Outliers, Summary};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SampleError {
    #[error("a sample needs at least 2 values, got {0}")]
    TooFew(usize),
    #[error("value {index} is {value}; timings must be finite and non-negative")]
    Invalid { index: usize, value: f64 },
}

/// At least two finite, non-negative values, kept sorted. Constructing one is the only check.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    sorted: Vec<f64>,
}

impl Sample {
    pub fn new(values: &[f64]) -> Result<Self, SampleError> {
        if values.len() < 2 {
            return Err(SampleError::TooFew(values.len()));
        }
        if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite() || **v < 0.0) {
            return Err(SampleError::Invalid { index, value });
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Ok(Sample { sorted })
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn sorted(&self) -> &[f64] {
        &self.sorted
    }

    /// Linear-interpolated quantile, q in [0, 1] (type 7, as numpy's default).
    pub fn quantile(&self, q: f64) -> f64 {
        quantile_sorted(&self.sorted, q)
    }

    pub fn median(&self) -> f64 {
        self.quantile(0.5)
    }

    pub fn mean(&self) -> f64 {
        self.sorted.iter().sum::<f64>() / self.len() as f64
    }

    /// Sample standard deviation (n - 1).
    pub fn std_dev(&self) -> f64 {
        let m = self.mean();
        let ss: f64 = self.sorted.iter().map(|v| (v - m).powi(2)).sum();
        (ss / (self.len() - 1) as f64).sqrt()
    }

    /// Tukey's fences: mild beyond 1.5 IQR from the quartiles, severe beyond 3 IQR.
    pub fn outliers(&self) -> Outliers {
        let (q1, q3) = (self.quantile(0.25), self.quantile(0.75));
        let iqr = q3 - q1;
        let mut o = Outliers::default();
        for &v in &self.sorted {
            if v < q1 - 3.0 * iqr {
                o.low_severe += 1;
            } else if v < q1 - 1.5 * iqr {
                o.low_mild += 1;
            } else if v > q3 + 3.0 * iqr {
                o.high_severe += 1;
            } else if v > q3 + 1.5 * iqr {
                o.high_mild += 1;
            }
        }
        o
    }

    /// Percentile-bootstrap confidence interval of the median at `level` (e.g. 0.95), from
    /// `resamples` resamples drawn with a fixed seed, so the same sample gives the same interval.
    pub fn median_ci(&self, level: f64, resamples: usize) -> (f64, f64) {
        let mut rng = InputRng::new(0x5eed_ca11_b007);
        let n = self.len();
        let mut medians = Vec::with_capacity(resamples);
        let mut buf = vec![0f64; n];
        for _ in 0..resamples {
            for b in buf.iter_mut() {
                *b = self.sorted[rng.below(n as u32) as usize];
            }
            buf.sort_by(f64::total_cmp);
            medians.push(quantile_sorted(&buf, 0.5));
        }
        medians.sort_by(f64::total_cmp);
        let alpha = (1.0 - level) / 2.0;
        (quantile_sorted(&medians, alpha), quantile_sorted(&medians, 1.0 - alpha))
    }

    pub fn summary(&self) -> Summary {
        let (lo, hi) = self.median_ci(0.95, BOOTSTRAP_RESAMPLES);
        let mean = self.mean();
        Summary {
            n: self.len() as u64,
            median_ns: self.median(),
            mean_ns: mean,
            min_ns: self.sorted[0],
            max_ns: self.sorted[self.len() - 1],
            p10_ns: self.quantile(0.10),
            p90_ns: self.quantile(0.90),
            p99_ns: self.quantile(0.99),
            cv: if mean > 0.0 { self.std_dev() / mean } else { 0.0 },
            median_ci_low_ns: lo,
            median_ci_high_ns: hi,
            outliers: self.outliers(),
        }
    }
}

pub const BOOTSTRAP_RESAMPLES: usize = 1000;

fn quantile_sorted(s: &[f64], q: f64) -> f64 {
    let pos = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

/// Relative width of the median's CI: (high - low) / median. Sampling stops once it is small.
pub fn relative_ci_width(s: &Summary) -> f64 {
    if s.median_ns > 0.0 { (s.median_ci_high_ns - s.median_ci_low_ns) / s.median_ns } else { f64::INFINITY }
}

/// The standard error of a summary's log median, from its 95% bootstrap interval (0 where the
/// interval is empty or degenerate).
pub fn log_median_se(s: &Summary) -> f64 {
    let (lo, hi) = (s.median_ci_low_ns, s.median_ci_high_ns);
    if lo > 0.0 && hi > lo { (hi.ln() - lo.ln()) / (2.0 * 1.96) } else { 0.0 }
}

/// Ratio of medians, candidate / base, with a bootstrap CI from independent resamples of both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioEstimate {
    pub ratio: f64,
    pub low: f64,
    pub high: f64,
}

pub fn median_ratio(base: &Sample, cand: &Sample, level: f64, resamples: usize) -> RatioEstimate {
    let mut rng = InputRng::new(0xd1ff_5eed);
    let mut ratios = Vec::with_capacity(resamples);
    let (mut bb, mut cb) = (vec![0f64; base.len()], vec![0f64; cand.len()]);
    for _ in 0..resamples {
        for b in bb.iter_mut() {
            *b = base.sorted[rng.below(base.len() as u32) as usize];
        }
        for c in cb.iter_mut() {
            *c = cand.sorted[rng.below(cand.len() as u32) as usize];
        }
        bb.sort_by(f64::total_cmp);
        cb.sort_by(f64::total_cmp);
        let (mb, mc) = (quantile_sorted(&bb, 0.5), quantile_sorted(&cb, 0.5));
        if mb > 0.0 {
            ratios.push(mc / mb);
        }
    }
    ratios.sort_by(f64::total_cmp);
    let alpha = (1.0 - level) / 2.0;
    let ratio = if base.median() > 0.0 { cand.median() / base.median() } else { f64::NAN };
    if ratios.is_empty() {
        return RatioEstimate { ratio, low: f64::NAN, high: f64::NAN };
    }
    RatioEstimate { ratio, low: quantile_sorted(&ratios, alpha), high: quantile_sorted(&ratios, 1.0 - alpha) }
}

/// The standard normal quantile (Acklam's rational approximation, relative error below 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -39.69683028665376,
        220.9460984245205,
        -275.9285104469687,
        138.357751867269,
        -30.66479806614716,
        2.506628277459239,
    ];
    const B: [f64; 5] =
        [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
    const C: [f64; 6] = [
        -0.007784894002430293,
        -0.3223964580411365,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Student's t quantile at upper-tail probability `p`'s complement, i.e. t such that
/// P(T <= t) = `p` for `p` above 0.5, with `df` degrees of freedom (Hill's algorithm 396,
/// ACM 1970; `df` is floored, which only widens an interval).
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    let n = df.floor().max(1.0);
    // Hill works with the two-tailed probability.
    let two = 2.0 * (1.0 - p.clamp(0.5, 1.0 - 1e-16));
    if n == 1.0 {
        let a = two * std::f64::consts::FRAC_PI_2;
        return a.cos() / a.sin();
    }
    if n == 2.0 {
        return (2.0 / (two * (2.0 - two)) - 2.0).sqrt();
    }
    let a = 1.0 / (n - 0.5);
    let b = 48.0 / (a * a);
    let mut c = ((20700.0 * a / b - 98.0) * a - 16.0) * a + 96.36;
    let d = ((94.5 / (b + c) - 3.0) / b + 1.0) * (a * std::f64::consts::FRAC_PI_2).sqrt() * n;
    let mut y = (d * two).powf(2.0 / n);
    if y > 0.05 + a {
        let x = normal_quantile(0.5 * two);
        y = x * x;
        if n < 5.0 {
            c += 0.3 * (n - 4.5) * (x + 0.6);
        }
        c += (((0.05 * d * x - 5.0) * x - 7.0) * x - 2.0) * x + b;
        y = (((((0.4 * y + 6.3) * y + 36.0) * y + 94.5) / c - y - 3.0) / b + 1.0) * x;
        y = a * y * y;
        y = if y > 0.1 { y.exp() - 1.0 } else { ((y + 4.0) * y + 12.0) * y * y / 24.0 + y };
    } else {
        y = ((1.0 / (((n + 6.0) / (n * y) - 0.089 * d - 0.822) * (n + 2.0) * 3.0) + 0.5 / (n + 4.0)) * y - 1.0)
            * (n + 1.0)
            / (n + 2.0)
            + 1.0 / y;
    }
    (n * y).sqrt()
}

/// The verdict on a candidate's time against a base's, given a threshold (0.05 = 5%).
/// Slower or faster only when the interval excludes "no change" (the difference is real at
/// the interval's level) and the estimate is beyond the threshold (it is big enough to
/// matter); unchanged only when the whole interval lies within the threshold. So noise alone
/// never fails a build, and an interval too wide to tell says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Faster,
    Slower,
    Unchanged,
    Inconclusive,
}

impl Verdict {
    pub fn of(r: &RatioEstimate, threshold: f64) -> Verdict {
        if !(r.low.is_finite() && r.high.is_finite() && r.ratio.is_finite()) {
            Verdict::Inconclusive
        } else if r.low > 1.0 && r.ratio >= 1.0 + threshold {
            Verdict::Slower
        } else if r.high < 1.0 && r.ratio <= 1.0 / (1.0 + threshold) {
            Verdict::Faster
        } else if r.low >= 1.0 / (1.0 + threshold) && r.high <= 1.0 + threshold {
            Verdict::Unchanged
        } else {
            Verdict::Inconclusive
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Faster => "faster",
            Verdict::Slower => "slower",
            Verdict::Unchanged => "unchanged",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_rejects_nan_negative_and_too_few() {
        assert_eq!(Sample::new(&[1.0]), Err(SampleError::TooFew(1)));
        assert!(matches!(Sample::new(&[1.0, f64::NAN]), Err(SampleError::Invalid { index: 1, .. })));
        assert!(matches!(Sample::new(&[-1.0, 2.0]), Err(SampleError::Invalid { index: 0, .. })));
        assert!(matches!(Sample::new(&[1.0, f64::INFINITY]), Err(SampleError::Invalid { .. })));
    }

    #[test]
    fn summary_of_known_values() {
        let s = Sample::new(&[1.0, 2.0, 3.0, 4.0, 100.0]).unwrap();
        let sum = s.summary();
        assert_eq!((sum.median_ns, sum.min_ns, sum.max_ns), (3.0, 1.0, 100.0));
        assert_eq!(sum.mean_ns, 22.0);
        assert_eq!(sum.outliers.high_severe, 1);
        assert!(sum.median_ci_low_ns <= 3.0 && sum.median_ci_high_ns >= 3.0);
    }

    /// Normal(mean, sd) by Box-Muller from our deterministic generator.
    fn normal(rng: &mut InputRng, mean: f64, sd: f64) -> f64 {
        mean + sd * crate::testing::normal(rng)
    }

    #[test]
    fn bootstrap_median_ci_covers_the_true_median_about_95_percent_of_the_time() {
        let mut rng = InputRng::new(42);
        let trials = 400;
        let mut covered = 0;
        for _ in 0..trials {
            let xs: Vec<f64> = (0..40).map(|_| normal(&mut rng, 100.0, 10.0)).collect();
            let (lo, hi) = Sample::new(&xs).unwrap().median_ci(0.95, 400);
            if lo <= 100.0 && 100.0 <= hi {
                covered += 1;
            }
        }
        let rate = f64::from(covered) / f64::from(trials);
        // Percentile bootstrap of a median is slightly conservative at n = 40; 400 trials give a
        // binomial standard error of about 1.1 points.
        assert!((0.91..=0.99).contains(&rate), "coverage {rate}");
    }

    #[test]
    fn quantiles_match_published_tables() {
        for (p, z) in [(0.975, 1.959964), (0.995, 2.575829), (0.9, 1.281552), (0.5, 0.0), (0.001, -3.090232)] {
            assert!((normal_quantile(p) - z).abs() < 1e-5, "z({p}) = {}", normal_quantile(p));
        }
        // Student's t, from standard tables.
        for (p, df, t) in [
            (0.995, 1.0, 63.657),
            (0.995, 2.0, 9.925),
            (0.995, 4.0, 4.604),
            (0.995, 10.0, 3.169),
            (0.975, 3.0, 3.182),
            (0.975, 30.0, 2.042),
            (0.995, 8.7, 3.355),
        ] {
            let got = student_t_quantile(p, df);
            assert!((got - t).abs() / t < 2e-3, "t({p}, {df}) = {got}, table {t}");
        }
    }

    #[test]
    fn a_significant_change_below_the_threshold_is_not_a_verdict() {
        let r = |ratio, low, high| RatioEstimate { ratio, low, high };
        assert_eq!(Verdict::of(&r(1.03, 1.01, 1.05), 0.05), Verdict::Unchanged);
        assert_eq!(Verdict::of(&r(1.04, 1.01, 1.08), 0.05), Verdict::Inconclusive);
        assert_eq!(Verdict::of(&r(1.06, 1.01, 1.11), 0.05), Verdict::Slower);
        assert_eq!(Verdict::of(&r(1.06, 0.99, 1.13), 0.05), Verdict::Inconclusive);
        assert_eq!(Verdict::of(&r(0.9, 0.85, 0.97), 0.05), Verdict::Faster);
    }

    #[test]
    fn verdicts_need_the_whole_interval_beyond_the_threshold() {
        let mut rng = InputRng::new(7);
        let base: Vec<f64> = (0..60).map(|_| normal(&mut rng, 100.0, 2.0)).collect();
        let same: Vec<f64> = (0..60).map(|_| normal(&mut rng, 100.0, 2.0)).collect();
        let slow: Vec<f64> = (0..60).map(|_| normal(&mut rng, 120.0, 2.0)).collect();
        let (b, s, w) = (Sample::new(&base).unwrap(), Sample::new(&same).unwrap(), Sample::new(&slow).unwrap());
        let v = |c: &Sample| Verdict::of(&median_ratio(&b, c, 0.95, 500), 0.05);
        assert_eq!(v(&s), Verdict::Unchanged);
        assert_eq!(v(&w), Verdict::Slower);
        assert_eq!(Verdict::of(&median_ratio(&w, &b, 0.95, 500), 0.05), Verdict::Faster);
    }
}
