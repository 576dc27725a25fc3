//! Host-timed execution, shared by the native CPU backends and the page's WASM CPU path: a
//! prepared kernel is run cold and checked, warmed up, batched to span the clock's resolution,
//! then sampled one sample per `step`, so a browser caller can yield to its event loop between
//! samples while a native caller simply loops.

use crate::catalogue::{Kernel, Params, Size};
use crate::check::compare;
use crate::clock;
use crate::env::HostFacts;
use crate::measure::{Sampler, SamplingConfig, batch_for};
use crate::schema::{AdapterReport, ColdTiming, Record, Status, Throughput, TimerInfo, Timing};

/// A kernel ready to run repeatedly: inputs converted, outputs allocated, plans made.
pub trait Prepared {
    fn run(&mut self);
    /// The last run's output in the reference's layout.
    fn output(&self) -> Vec<f32>;
}

/// The plain CPU reference as a [`Prepared`] kernel: natively `native-reference`, in a page the
/// WASM CPU path (`<browser>-wasm`). Its output is the ground truth, so it is never checked
/// against itself.
#[derive(Debug)]
pub struct RefRun<'a> {
    pub kernel: &'a Kernel,
    pub params: &'a Params,
    pub inputs: &'a crate::kernels::Inputs,
    pub out: Vec<f32>,
}

impl Prepared for RefRun<'_> {
    fn run(&mut self) {
        self.out = std::hint::black_box(self.kernel.imp.reference(self.params, self.inputs));
    }
    fn output(&self) -> Vec<f32> {
        self.out.clone()
    }
}

/// What every host-timed record needs to know about its run.
#[derive(Debug, Clone)]
pub struct HostRun<'a> {
    pub backend: &'a str,
    pub adapter: Option<AdapterReport>,
    pub size: Size,
    pub seed: u64,
    pub sampling: &'a SamplingConfig,
    pub facts: &'a HostFacts,
    /// Resolution of the clock, ns: 1000 natively (Instant is finer; 1 us is conservative),
    /// 5 us or 100 us for `performance.now()` with and without cross-origin isolation.
    pub resolution_ns: f64,
}

impl HostRun<'_> {
    pub fn base_record(&self, kernel: &Kernel, p: &Params) -> Record {
        kernel.base_record(p, self.size, self.backend, self.adapter.clone(), self.facts.provenance(self.seed))
    }

    /// A `skipped` record for a kernel this backend cannot run, with the reason.
    pub fn skipped(&self, kernel: &Kernel, p: &Params, reason: String) -> Record {
        Record { status: Status::Skipped { reason }, ..self.base_record(kernel, p) }
    }
}

/// A host-timed kernel being sampled.
pub struct HostBench<'a> {
    prepared: &'a mut dyn Prepared,
    record: Record,
    reps: u32,
    resolution_ns: f64,
    warmup: u32,
    first_run_ns: f64,
    sampler: Sampler,
    stopped_by: Option<&'static str>,
}

impl std::fmt::Debug for HostBench<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostBench").field("kernel", &self.record.kernel).field("reps", &self.reps).finish()
    }
}

impl<'a> HostBench<'a> {
    /// Cold run, check against `expected` (None for the reference itself), warm-up and batch
    /// calibration. `Err` is the finished record of a kernel that fails its check.
    pub fn start(
        prepared: &'a mut dyn Prepared,
        kernel: &Kernel,
        p: &Params,
        expected: Option<&[f32]>,
        run: &HostRun<'_>,
    ) -> Result<HostBench<'a>, Box<Record>> {
        let mut record = run.base_record(kernel, p);
        let t0 = clock::now();
        prepared.run();
        let first_run_ns = t0.elapsed().as_secs_f64() * 1e9;
        if let Some(expected) = expected {
            let check = compare(&prepared.output(), expected, kernel.tolerance);
            if !check.passed {
                record.status = Status::Mismatch { reason: check.mismatch_reason() };
                record.check = Some(check);
                return Err(Box::new(record));
            }
            record.check = Some(check);
        }
        for _ in 0..run.sampling.warmup {
            prepared.run();
        }
        let t0 = clock::now();
        prepared.run();
        let single = t0.elapsed().as_secs_f64() * 1e9;
        let reps = batch_for(single, run.sampling.min_resolutions_per_sample * run.resolution_ns, 10_000);
        Ok(HostBench {
            prepared,
            record,
            reps,
            resolution_ns: run.resolution_ns,
            warmup: run.sampling.warmup,
            first_run_ns,
            sampler: Sampler::new(run.sampling.clone()),
            stopped_by: None,
        })
    }

    /// Takes one sample (a batch of `reps` runs); true once the sampler says stop.
    pub fn step(&mut self) -> bool {
        let t0 = clock::now();
        for _ in 0..self.reps {
            self.prepared.run();
        }
        let wall = t0.elapsed().as_secs_f64() * 1e9;
        self.sampler.push(wall / f64::from(self.reps), wall);
        self.stopped_by = self.sampler.stop_reason();
        self.stopped_by.is_some()
    }

    pub fn samples_taken(&self) -> usize {
        self.sampler.samples().len()
    }

    pub fn finish(self) -> Record {
        let mut record = self.record;
        let Some(summary) = self.sampler.summary() else {
            record.status = Status::Failed { reason: "fewer than two valid samples".into() };
            return record;
        };
        record.throughput = Some(Throughput::from_median(&record.work, summary.median_ns));
        record.timing = Some(Timing {
            timer: TimerInfo { kind: "host-clock".into(), resolution_ns: self.resolution_ns, quantized: false },
            batch: self.reps,
            warmup: self.warmup,
            samples_ns: self.sampler.samples().to_vec(),
            summary,
            stopped_by: self.stopped_by.unwrap_or("max-samples").to_owned(),
            sampling_wall_ns: Some(self.sampler.spent_ns()),
            cold: ColdTiming { pipeline_ns: None, first_run_ns: Some(self.first_run_ns) },
            phases: vec![],
        });
        record
    }
}

/// Runs a prepared kernel to the end without yielding (native callers).
pub fn measure_host(
    prepared: &mut dyn Prepared,
    kernel: &Kernel,
    p: &Params,
    expected: Option<&[f32]>,
    run: &HostRun<'_>,
) -> Record {
    match HostBench::start(prepared, kernel, p, expected, run) {
        Ok(mut bench) => {
            while !bench.step() {}
            bench.finish()
        }
        Err(record) => *record,
    }
}
