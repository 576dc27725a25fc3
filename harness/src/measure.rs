//! The one measurement protocol every backend runs: the cold first run, the check against the
//! reference, warm-up (never counted), batch calibration against the timer's measured
//! resolution, then samples until the median's 95% CI is narrow enough, the budget is spent, the
//! user cancels or the backend fails. What differs per backend (how to execute and time a batch)
//! is the small [`Timed`] trait: GPU timestamps, GPU fences and the host clock implement it.

use crate::check::{Tolerance, compare};
use crate::schema::{ColdTiming, PhaseTiming, Record, Status, StopReason, Summary, Throughput, TimerInfo, Timing};
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

    /// `Some(reason)` once sampling should stop on its own account (CI, budget, sample cap).
    pub fn stop_reason(&self) -> Option<StopReason> {
        let n = self.samples.len();
        if n >= self.cfg.max_samples {
            return Some(StopReason::MaxSamples);
        }
        if n >= self.cfg.min_samples.max(2) {
            // Bootstrapping is the costly part; check every few samples, not every one.
            // A zero target (rounds spend their whole budget) never bootstraps at all.
            if self.cfg.target_rel_ci > 0.0
                && (n - self.cfg.min_samples.max(2)).is_multiple_of(5)
                && let Ok(s) = Sample::new(&self.samples)
                && relative_ci_width(&s.summary()) <= self.cfg.target_rel_ci
            {
                return Some(StopReason::CiTarget);
            }
            if self.spent_ns >= self.cfg.time_budget_ns {
                return Some(StopReason::TimeBudget);
            }
        } else if self.spent_ns >= 4.0 * self.cfg.time_budget_ns && n >= 2 {
            // Very slow kernels: two samples are all we can afford; say so via the reason.
            return Some(StopReason::TimeBudget);
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

/// The first, cold execution: its output (in the reference's layout) for the check, and the
/// host time it took.
#[derive(Debug)]
pub struct FirstRun {
    pub output: Vec<f32>,
    pub ns: f64,
}

/// One sample as the timer saw it.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    /// ns per execution (the batch's time divided by its size).
    pub per_exec_ns: f64,
    /// Host wall time the sample cost, for the budget.
    pub wall_ns: f64,
    /// ns per execution of each timed pass, where the timer resolves passes (else empty).
    pub per_pass_ns: Vec<f64>,
}

/// How one backend executes a prepared kernel and times a batch of executions. Everything else
/// (order, check, warm-up, batching, stopping, the record) is [`Measurement`]'s, so every backend
/// follows the same protocol.
// The futures are awaited in place, on one thread (a browser's is the only one), so no `Send`.
#[allow(async_fn_in_trait)]
pub trait Timed {
    type Error: std::fmt::Display;
    /// Runs once, cold, and returns the output for the check.
    async fn first_run(&mut self) -> Result<FirstRun, Self::Error>;
    /// Executes `reps` times back to back as one sample.
    async fn sample(&mut self, reps: u32) -> Result<Reading, Self::Error>;
    /// The timer as the samples so far have shown it (a detected quantisation included).
    fn timer(&self) -> TimerInfo;
    /// The shortest sample worth taking, ns: enough resolutions of the timer that its step is
    /// negligible.
    fn min_sample_ns(&self, cfg: &SamplingConfig) -> f64 {
        cfg.min_resolutions_per_sample * self.timer().resolution_ns
    }
    /// The largest batch this timer can take in one sample.
    fn max_reps(&self) -> u32 {
        10_000
    }
    /// Told the chosen batch before sampling starts (the GPU sizes its query set for it).
    fn set_reps(&mut self, _reps: u32) {}
    /// Labels of the passes [`Reading::per_pass_ns`] reports, in order.
    fn phase_labels(&self) -> Vec<String> {
        Vec::new()
    }
    /// Pipeline or model compilation time, where the backend has such a step.
    fn pipeline_ns(&self) -> Option<f64> {
        None
    }
    /// The same compilation again at once (driver and caches warm).
    fn warm_pipeline_ns(&self) -> Option<f64> {
        None
    }
    /// Whether a persistent pipeline cache held the pipelines.
    fn pipeline_cache(&self) -> Option<crate::schema::PipelineCacheState> {
        None
    }
}

/// A kernel on one backend, checked and being sampled.
#[derive(Debug)]
pub struct Measurement<T> {
    timed: T,
    record: Record,
    reps: u32,
    warmup: u32,
    first_run_ns: f64,
    sampler: Sampler,
    phase_samples: Vec<Vec<f64>>,
    stopped_by: Option<StopReason>,
}

impl<T: Timed> Measurement<T> {
    /// The cold run, the check against `expected` (`None` for the reference itself, the ground
    /// truth), warm-up and batch calibration. `Err` is the finished record of a case that ends
    /// here: a mismatch, or a backend failure.
    pub async fn start(
        mut timed: T,
        mut record: Record,
        expected: Option<&[f32]>,
        f32_result: Option<&[f32]>,
        tolerance: Tolerance,
        cfg: &SamplingConfig,
    ) -> Result<Self, Box<Record>> {
        let failed = |mut record: Record, e: T::Error| {
            record.status = Status::Failed { reason: e.to_string() };
            Box::new(record)
        };
        let first = match timed.first_run().await {
            Ok(f) => f,
            Err(e) => return Err(failed(record, e)),
        };
        if let Some(expected) = expected {
            let check = compare(&first.output, expected, tolerance);
            if !check.passed {
                record.status = Status::Mismatch { reason: check.mismatch_reason() };
                record.check = Some(check);
                return Err(Box::new(record));
            }
            record.check = Some(crate::schema::CheckReport {
                vs_f32: f32_result.map(|f| crate::check::error_vs_f32(&first.output, f)),
                ..check
            });
        }
        for _ in 0..cfg.warmup {
            if let Err(e) = timed.sample(1).await {
                return Err(failed(record, e));
            }
        }
        // Calibrate from one more execution, after warm-up, against the timer as measured.
        let probe = match timed.sample(1).await {
            Ok(r) => r,
            Err(e) => return Err(failed(record, e)),
        };
        let reps = batch_for(probe.per_exec_ns, timed.min_sample_ns(cfg), timed.max_reps());
        timed.set_reps(reps);
        let npass = timed.phase_labels().len();
        Ok(Measurement {
            timed,
            record,
            reps,
            warmup: cfg.warmup,
            first_run_ns: first.ns,
            sampler: Sampler::new(cfg.clone()),
            phase_samples: vec![Vec::new(); npass],
            stopped_by: None,
        })
    }

    /// Takes one sample unless sampling has stopped; true once it has. A backend error ends the
    /// case as `failed` with the backend's message.
    pub async fn step(&mut self) -> bool {
        if self.stopped_by.is_some() {
            return true;
        }
        match self.timed.sample(self.reps).await {
            Ok(r) => {
                self.sampler.push(r.per_exec_ns, r.wall_ns);
                for (acc, v) in self.phase_samples.iter_mut().zip(&r.per_pass_ns) {
                    acc.push(*v);
                }
                self.stopped_by = self.sampler.stop_reason();
            }
            Err(e) => {
                self.record.status = Status::Failed { reason: format!("while sampling: {e}") };
                self.stopped_by = Some(StopReason::Error);
            }
        }
        self.stopped_by.is_some()
    }

    /// Stops sampling at the user's request; the samples so far make the record.
    pub fn cancel(&mut self) {
        self.stopped_by.get_or_insert(StopReason::Cancelled);
    }

    pub fn is_done(&self) -> bool {
        self.stopped_by.is_some()
    }

    pub fn samples_taken(&self) -> usize {
        self.sampler.samples().len()
    }

    /// The latest sample, ns per execution.
    pub fn last_sample_ns(&self) -> Option<f64> {
        self.sampler.samples().last().copied()
    }

    /// The median of the samples so far, ns per execution.
    pub fn median_ns(&self) -> Option<f64> {
        Sample::new(self.sampler.samples()).ok().map(|s| s.median())
    }

    pub fn finish(self) -> Record {
        self.finish_parts().0
    }

    /// The record, every sample's per-pass times (one list per pass, as
    /// [`Timed::phase_labels`] names them) and the backend back, for callers that derive more
    /// from the passes (a model's per-token latency) or keep using the prepared work.
    pub fn finish_parts(self) -> (Record, Vec<Vec<f64>>, T) {
        let mut record = self.record;
        if record.status != Status::Measured {
            return (record, self.phase_samples, self.timed);
        }
        let Some(summary) = self.sampler.summary() else {
            record.status = Status::Failed {
                reason: match self.stopped_by {
                    Some(StopReason::Cancelled) => "cancelled before two samples were taken".into(),
                    _ => "fewer than two valid samples".into(),
                },
            };
            return (record, self.phase_samples, self.timed);
        };
        let phases = if self.phase_samples.len() > 1 {
            self.timed
                .phase_labels()
                .into_iter()
                .zip(&self.phase_samples)
                .filter_map(|(label, v)| Sample::new(v).ok().map(|s| PhaseTiming { label, median_ns: s.median() }))
                .collect()
        } else {
            vec![]
        };
        record.throughput = Some(Throughput::from_median(&record.work, summary.median_ns));
        record.timing = Some(Timing {
            timer: self.timed.timer(),
            batch: self.reps,
            warmup: self.warmup,
            samples_ns: self.sampler.samples().to_vec(),
            summary,
            stopped_by: self.stopped_by.unwrap_or(StopReason::MaxSamples),
            sampling_wall_ns: Some(self.sampler.spent_ns()),
            cold: ColdTiming {
                pipeline_ns: self.timed.pipeline_ns(),
                first_run_ns: Some(self.first_run_ns),
                warm_pipeline_ns: self.timed.warm_pipeline_ns(),
                pipeline_cache: self.timed.pipeline_cache(),
            },
            phases,
        });
        (record, self.phase_samples, self.timed)
    }
}

/// Measures several cases with their samples taken round-robin, one sample of each in turn, so
/// slow drift of the machine (clock steps, other load) affects them alike: this is how variants
/// are compared within one run. `on_sample(index, samples taken)` follows every sample;
/// `cancelled()` is asked between samples and ends every case with the samples so far.
pub async fn interleaved<T: Timed>(
    mut cases: Vec<Result<Measurement<T>, Box<Record>>>,
    on_sample: &mut dyn FnMut(usize, usize),
    cancelled: &dyn Fn() -> bool,
) -> Vec<Record> {
    loop {
        let mut active = 0;
        for (i, m) in cases.iter_mut().enumerate() {
            let Ok(m) = m else { continue };
            if m.is_done() {
                continue;
            }
            if cancelled() {
                m.cancel();
                continue;
            }
            active += 1;
            m.step().await;
            on_sample(i, m.samples_taken());
        }
        if active == 0 {
            break;
        }
    }
    cases.into_iter().map(|m| m.map_or_else(|r| *r, Measurement::finish)).collect()
}

/// Drives a future that never waits (host-timed backends: their `Timed` methods are plain code)
/// to completion on the calling thread.
///
/// # Panics
/// If the future does wait: a GPU future needs a real executor (pollster natively, the browser's
/// event loop in a page).
pub fn complete_now<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("complete_now: the future waited; use an executor for GPU work"),
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
        assert_eq!(s.stop_reason(), Some(StopReason::CiTarget));

        let mut s = Sampler::new(SamplingConfig { time_budget_ns: 100.0, ..SamplingConfig::full() });
        for i in 0..10 {
            s.push(if i % 2 == 0 { 1.0 } else { 1000.0 }, 20.0);
        }
        assert_eq!(s.stop_reason(), Some(StopReason::TimeBudget));
    }
}
