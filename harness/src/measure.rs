//! The sampling protocol shared by every backend: warm-up never counts, a minimum number of
//! samples, then more until the median's 95% CI is narrow enough or the time budget is spent.
//! Time comes from the caller, so this works with GPU timestamps, host fences and CPU clocks alike.

use crate::schema::Summary;
use crate::stats::{Sample, relative_ci_width};

#[derive(Clone, Debug)]
pub struct SamplingConfig {
    pub warmup: u32,
    pub min_samples: usize,
    pub max_samples: usize,
    /// Stop once (CI high - CI low) / median is at most this (0.02 = 2%).
    pub target_rel_ci: f64,
    /// Per kernel and backend, in ns of wall time spent sampling.
    pub time_budget_ns: f64,
    /// A sample must last at least this many timer resolutions, else executions are batched.
    pub min_resolutions_per_sample: f64,
}

impl SamplingConfig {
    /// For tests and quick runs: enough samples for a median and a CI, little time.
    pub fn quick() -> Self {
        SamplingConfig {
            warmup: 1,
            min_samples: 5,
            max_samples: 50,
            target_rel_ci: 0.05,
            time_budget_ns: 0.4e9,
            min_resolutions_per_sample: 20.0,
        }
    }

    pub fn full() -> Self {
        SamplingConfig {
            warmup: 3,
            min_samples: 10,
            max_samples: 300,
            target_rel_ci: 0.02,
            time_budget_ns: 5e9,
            min_resolutions_per_sample: 20.0,
        }
    }
}

/// How many executions to batch per sample so one sample spans `min_ns`, given one execution
/// took `single_ns`. Capped, since a kernel this fast is measuring dispatch overhead anyway.
pub fn batch_for(single_ns: f64, min_ns: f64, cap: u32) -> u32 {
    if single_ns <= 0.0 || !single_ns.is_finite() {
        return cap.max(1);
    }
    ((min_ns / single_ns).ceil() as u32).clamp(1, cap.max(1))
}

/// Accumulates samples and decides when to stop.
#[derive(Debug)]
pub struct Sampler {
    cfg: SamplingConfig,
    samples: Vec<f64>,
    spent_ns: f64,
}

impl Sampler {
    pub fn new(cfg: SamplingConfig) -> Self {
        Sampler { cfg, samples: Vec::new(), spent_ns: 0.0 }
    }

    /// Records one sample (ns per execution) and the wall time it cost (ns).
    pub fn push(&mut self, sample_ns: f64, wall_ns: f64) {
        self.samples.push(sample_ns);
        self.spent_ns += wall_ns;
    }

    /// `Some(reason)` once sampling should stop: `ci-target`, `time-budget` or `max-samples`.
    pub fn stop_reason(&self) -> Option<&'static str> {
        let n = self.samples.len();
        if n >= self.cfg.max_samples {
            return Some("max-samples");
        }
        if n >= self.cfg.min_samples.max(2) {
            // Bootstrapping is the costly part; check every few samples, not every one.
            if (n - self.cfg.min_samples.max(2)).is_multiple_of(5)
                && let Ok(s) = Sample::new(&self.samples)
                && relative_ci_width(&s.summary()) <= self.cfg.target_rel_ci
            {
                return Some("ci-target");
            }
            if self.spent_ns >= self.cfg.time_budget_ns {
                return Some("time-budget");
            }
        } else if self.spent_ns >= 4.0 * self.cfg.time_budget_ns && n >= 2 {
            // Very slow kernels: two samples are all we can afford; say so via the reason.
            return Some("time-budget");
        }
        None
    }

    /// Wall time the samples took, ns.
    pub fn spent_ns(&self) -> f64 {
        self.spent_ns
    }

    pub fn samples(&self) -> &[f64] {
        &self.samples
    }

    pub fn summary(&self) -> Option<Summary> {
        Sample::new(&self.samples).ok().map(|s| s.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batching_reaches_the_minimum_span() {
        assert_eq!(batch_for(1000.0, 20_000.0, 1000), 20);
        assert_eq!(batch_for(50_000.0, 20_000.0, 1000), 1);
        assert_eq!(batch_for(1.0, 20_000.0, 64), 64);
    }

    #[test]
    fn stops_on_a_tight_ci_and_on_the_budget() {
        let mut s = Sampler::new(SamplingConfig { min_samples: 10, ..SamplingConfig::full() });
        for i in 0..10 {
            assert_eq!(s.stop_reason(), None);
            s.push(1000.0 + f64::from(i % 2), 1.0);
        }
        assert_eq!(s.stop_reason(), Some("ci-target"));

        let mut s = Sampler::new(SamplingConfig { time_budget_ns: 100.0, ..SamplingConfig::full() });
        for i in 0..10 {
            s.push(if i % 2 == 0 { 1.0 } else { 1000.0 }, 20.0);
        }
        assert_eq!(s.stop_reason(), Some("time-budget"));
    }
}
