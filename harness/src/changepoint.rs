//! Change points in a stored series: E-Divisive Means (Matteson & James 2014, as MongoDB's
//! performance CI uses it) on the runs' log medians, each candidate kept only when a permutation
//! test finds it significant, the step clears the runs' own uncertainty, and it is larger than
//! the metric's threshold. Pure: a function of the series, with a fixed permutation seed.

use crate::rng::InputRng;

/// One run of a series: its value (a median, a rate) and the relative standard error of that
/// value (from its interval), which weights how much a step must clear.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub value: f64,
    pub rel_se: f64,
}

/// A found change: the series moved between `index - 1` and `index`.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub index: usize,
    /// Median value of the segment before and after (within the neighbouring change points).
    pub before: f64,
    pub after: f64,
    /// The permutation test's p-value.
    pub p_value: f64,
}

impl Change {
    pub fn ratio(&self) -> f64 {
        self.after / self.before
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Points each side of a change at least.
    pub min_size: usize,
    /// Significance of the permutation test.
    pub alpha: f64,
    pub permutations: usize,
    /// Relative change below which a step is not reported (0.05 = 5%).
    pub threshold: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { min_size: 3, alpha: 0.01, permutations: 199, threshold: 0.05 }
    }
}

/// The change points of `points`, in index order.
pub fn detect(points: &[Point], s: &Settings) -> Vec<Change> {
    let x: Vec<f64> = points.iter().map(|p| p.value.max(f64::MIN_POSITIVE).ln()).collect();
    let mut cuts: Vec<usize> = Vec::new();
    let mut p_values: Vec<(usize, f64)> = Vec::new();
    let mut rng = InputRng::new(0xc4a9_6e00);
    // Hierarchical: split the segment whose best split is strongest, test it, repeat.
    loop {
        let mut bounds = vec![0];
        bounds.extend(cuts.iter().copied());
        bounds.push(x.len());
        let best = bounds
            .windows(2)
            .filter_map(|w| best_split(&x[w[0]..w[1]], s.min_size).map(|(t, q)| (w[0], w[1], w[0] + t, q)))
            .max_by(|a, b| a.3.total_cmp(&b.3));
        let Some((lo, hi, at, q)) = best else { break };
        // Permutation test within the segment: how often does shuffled data split as strongly?
        let mut seg = x[lo..hi].to_vec();
        let mut as_strong = 0;
        for _ in 0..s.permutations {
            for i in (1..seg.len()).rev() {
                seg.swap(i, rng.below(i as u32 + 1) as usize);
            }
            if best_split(&seg, s.min_size).is_some_and(|(_, qp)| qp >= q) {
                as_strong += 1;
            }
        }
        let p = (as_strong + 1) as f64 / (s.permutations + 1) as f64;
        if p > s.alpha {
            break;
        }
        cuts.push(at);
        cuts.sort_unstable();
        p_values.push((at, p));
    }
    // Report each cut against its neighbours, keeping those whose step clears the runs' own
    // uncertainty and the threshold.
    let mut out = Vec::new();
    for (i, &c) in cuts.iter().enumerate() {
        let lo = if i == 0 { 0 } else { cuts[i - 1] };
        let hi = cuts.get(i + 1).copied().unwrap_or(x.len());
        let (before, after) = (&points[lo..c], &points[c..hi]);
        let (mb, ma) = (median(before), median(after));
        let step = (ma / mb).ln();
        let se = (mean_sq_se(before) / before.len() as f64 + mean_sq_se(after) / after.len() as f64).sqrt();
        if step.abs() > 3.0 * se && (step.abs().exp() - 1.0) >= s.threshold {
            let p_value = p_values.iter().find(|(at, _)| *at == c).map_or(1.0, |(_, p)| *p);
            out.push(Change { index: c, before: mb, after: ma, p_value });
        }
    }
    out
}

fn median(p: &[Point]) -> f64 {
    let mut v: Vec<f64> = p.iter().map(|p| p.value).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn mean_sq_se(p: &[Point]) -> f64 {
    p.iter().map(|p| p.rel_se * p.rel_se).sum::<f64>() / p.len() as f64
}

/// The E-Divisive statistic of splitting `x` into `x[..t]` and `x[t..]` (alpha = 1).
fn q_at(x: &[f64], t: usize) -> f64 {
    let (a, b) = x.split_at(t);
    let (m, n) = (a.len() as f64, b.len() as f64);
    let between: f64 = a.iter().map(|u| b.iter().map(|v| (u - v).abs()).sum::<f64>()).sum::<f64>() * 2.0 / (m * n);
    let within = |s: &[f64]| {
        let k = s.len() as f64;
        if s.len() < 2 {
            return 0.0;
        }
        let mut sum = 0.0;
        for i in 0..s.len() {
            for j in i + 1..s.len() {
                sum += (s[i] - s[j]).abs();
            }
        }
        sum / (k * (k - 1.0) / 2.0)
    };
    m * n / (m + n) * (between - within(a) - within(b))
}

/// The strongest split of `x` with at least `min_size` points each side: (index, statistic).
fn best_split(x: &[f64], min_size: usize) -> Option<(usize, f64)> {
    let min_size = min_size.max(2);
    if x.len() < 2 * min_size {
        return None;
    }
    (min_size..=x.len() - min_size).map(|t| (t, q_at(x, t))).max_by(|a, b| a.1.total_cmp(&b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::normal;

    fn series(rng: &mut InputRng, levels: &[(usize, f64)], noise: f64) -> Vec<Point> {
        levels
            .iter()
            .flat_map(|&(n, level)| (0..n).map(move |_| level).collect::<Vec<_>>())
            .map(|l| Point { value: l * (noise * normal(rng)).exp(), rel_se: noise / 3.0 })
            .collect()
    }

    #[test]
    fn a_known_shift_is_found_at_its_index_with_its_size() {
        let mut rng = InputRng::new(11);
        let pts = series(&mut rng, &[(20, 100.0), (15, 125.0)], 0.03);
        let c = detect(&pts, &Settings::default());
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].index, 20);
        assert!((c[0].ratio() - 1.25).abs() < 0.04, "{:?}", c[0]);
        assert!(c[0].p_value <= 0.01);
    }

    #[test]
    fn two_shifts_are_both_found() {
        let mut rng = InputRng::new(12);
        let pts = series(&mut rng, &[(12, 100.0), (12, 80.0), (12, 120.0)], 0.02);
        let idx: Vec<usize> = detect(&pts, &Settings::default()).iter().map(|c| c.index).collect();
        assert_eq!(idx, [12, 24]);
    }

    #[test]
    fn no_shift_no_change_point_even_with_noisy_runs() {
        let mut rng = InputRng::new(13);
        for _ in 0..20 {
            let pts = series(&mut rng, &[(30, 100.0)], 0.08);
            assert_eq!(detect(&pts, &Settings::default()), vec![]);
        }
    }

    #[test]
    fn a_step_within_the_threshold_or_the_runs_uncertainty_is_not_reported() {
        let mut rng = InputRng::new(14);
        // A real but 2% step: below a 5% threshold.
        let pts = series(&mut rng, &[(20, 100.0), (20, 102.0)], 0.002);
        assert_eq!(detect(&pts, &Settings::default()), vec![]);
        // A 10% step made by runs each of which is uncertain by 20%: not claimed.
        let mut pts = series(&mut rng, &[(20, 100.0), (20, 110.0)], 0.01);
        pts.iter_mut().for_each(|p| p.rel_se = 0.2);
        assert_eq!(detect(&pts, &Settings::default()), vec![]);
    }
}
