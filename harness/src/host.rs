//! Host-timed execution, shared by the native host backends and the page's WASM CPU path: the
//! [`Prepared`] interface backends implement, and its [`Timed`] over the host clock, measured by
//! the one protocol in [`crate::measure`]. A browser caller steps it between yields to its event
//! loop; a native caller simply loops.

use crate::catalogue::{Kernel, Params, Size};
use crate::clock;
use crate::env::HostFacts;
use crate::measure::{FirstRun, Measurement, Reading, SamplingConfig, Timed, complete_now};
use crate::schema::{AdapterReport, Record, Status, TimerInfo, TimerKind};

/// A backend's failure to run a prepared kernel (an inference error, a failed launch), with the
/// backend's own message; the case becomes a `failed` record carrying it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RunError(pub String);

/// A kernel ready to run repeatedly: inputs converted, outputs allocated, plans made.
pub trait Prepared {
    /// One execution, finished when this returns (asynchronous devices synchronise).
    fn run(&mut self) -> Result<(), RunError>;
    /// The last run's output in the reference's layout (read back from the device).
    fn output(&self) -> Result<Vec<f32>, RunError>;
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
    fn run(&mut self) -> Result<(), RunError> {
        self.out = std::hint::black_box(self.kernel.imp.reference(self.params, self.inputs));
        Ok(())
    }
    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.out.clone())
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
    /// The host clock's step as measured at start ([`clock::resolution_ns`]), ns.
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

/// A [`Prepared`] kernel timed with the host clock: the [`Timed`] of native-cpu, CUDA (its
/// runs synchronise), OpenVINO, the reference and the page's WASM path.
pub struct HostTimed<'a> {
    pub prepared: &'a mut dyn Prepared,
    /// The host clock's measured step ([`clock::resolution_ns`]), ns.
    pub resolution_ns: f64,
}

impl std::fmt::Debug for HostTimed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostTimed").field("resolution_ns", &self.resolution_ns).finish_non_exhaustive()
    }
}

impl Timed for HostTimed<'_> {
    type Error = RunError;

    async fn first_run(&mut self) -> Result<FirstRun, RunError> {
        let t0 = clock::now();
        self.prepared.run()?;
        let ns = t0.elapsed().as_secs_f64() * 1e9;
        Ok(FirstRun { output: self.prepared.output()?, ns })
    }

    async fn sample(&mut self, reps: u32) -> Result<Reading, RunError> {
        let t0 = clock::now();
        for _ in 0..reps {
            self.prepared.run()?;
        }
        let wall_ns = t0.elapsed().as_secs_f64() * 1e9;
        Ok(Reading { per_exec_ns: wall_ns / f64::from(reps), wall_ns, per_pass_ns: vec![] })
    }

    fn timer(&self) -> TimerInfo {
        TimerInfo { kind: TimerKind::HostClock, resolution_ns: self.resolution_ns, quantized: false }
    }
}

/// Starts host-timed measurement of `prepared`: the cold run, the check against `expected`
/// (`None` for the reference itself), warm-up and batching. Host code never waits, so this
/// returns at once; a page then calls `step` between yields to its event loop.
pub fn start_host<'a>(
    prepared: &'a mut dyn Prepared,
    kernel: &Kernel,
    p: &Params,
    expected: Option<&[f32]>,
    f32_result: Option<&[f32]>,
    run: &HostRun<'_>,
) -> Result<Measurement<HostTimed<'a>>, Box<Record>> {
    let timed = HostTimed { prepared, resolution_ns: run.resolution_ns };
    let record = run.base_record(kernel, p);
    complete_now(Measurement::start(timed, record, expected, f32_result, kernel.tolerance, run.sampling))
}

/// Runs a prepared kernel to the end without yielding (native callers).
pub fn measure_host(
    prepared: &mut dyn Prepared,
    kernel: &Kernel,
    p: &Params,
    expected: Option<&[f32]>,
    f32_result: Option<&[f32]>,
    run: &HostRun<'_>,
) -> Record {
    match start_host(prepared, kernel, p, expected, f32_result, run) {
        Ok(mut m) => {
            while !complete_now(m.step()) {}
            m.finish()
        }
        Err(record) => *record,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::KERNELS;
    use crate::schema::StopReason;

    /// A backend that answers `out` and fails on its `fail_at`-th run (1-based; 0 never).
    struct Flaky {
        runs: u32,
        fail_at: u32,
        out: Vec<f32>,
    }

    impl Prepared for Flaky {
        fn run(&mut self) -> Result<(), RunError> {
            self.runs += 1;
            if self.runs == self.fail_at {
                Err(RunError(format!("device fell over on run {}", self.runs)))
            } else {
                Ok(())
            }
        }
        fn output(&self) -> Result<Vec<f32>, RunError> {
            Ok(self.out.clone())
        }
    }

    fn with_run(f: impl FnOnce(&HostRun<'_>)) {
        let facts =
            HostFacts { commit: "c".into(), date: "d".into(), cpu: "cpu".into(), os: "os".into(), browser: None };
        let sampling = SamplingConfig { warmup: 2, min_samples: 5, max_samples: 8, ..SamplingConfig::quick() };
        f(&HostRun {
            backend: "native-test",
            adapter: None,
            size: Size::Quick,
            seed: 1,
            sampling: &sampling,
            facts: &facts,
            resolution_ns: clock::resolution_ns(),
        });
    }

    #[test]
    fn a_backend_error_ends_the_case_as_failed_with_its_message_wherever_it_happens() {
        let k = &KERNELS[0];
        let p = &k.params(Size::Quick)[0];
        let expected = vec![1.0f32; 4];
        with_run(|run| {
            // Run 1 is the cold run, 2-3 warm-up, 4 calibration; 6 is within the first samples.
            for fail_at in [1, 3, 4, 6] {
                let mut flaky = Flaky { runs: 0, fail_at, out: expected.clone() };
                let r = measure_host(&mut flaky, k, p, Some(&expected), None, run);
                let Status::Failed { reason } = &r.status else { panic!("fail_at {fail_at}: {:?}", r.status) };
                assert!(reason.contains(&format!("device fell over on run {fail_at}")), "{reason}");
                assert!(r.timing.is_none(), "a failed case carries no timing");
            }
            let mut fine = Flaky { runs: 0, fail_at: 0, out: expected.clone() };
            let r = measure_host(&mut fine, k, p, Some(&expected), None, run);
            assert_eq!(r.status, Status::Measured);
            let t = r.timing.unwrap();
            assert_eq!(t.timer.kind, TimerKind::HostClock);
            assert!(t.samples_ns.len() >= 5 && t.samples_ns.len() <= 8, "{}", t.samples_ns.len());
        });
    }

    #[test]
    fn a_wrong_answer_is_a_mismatch_and_cancelling_keeps_the_samples_taken() {
        let k = &KERNELS[0];
        let p = &k.params(Size::Quick)[0];
        with_run(|run| {
            let mut wrong = Flaky { runs: 0, fail_at: 0, out: vec![1.0, 2.0, 3.0, 5.0] };
            let r = measure_host(&mut wrong, k, p, Some(&[1.0, 2.0, 3.0, 4.0]), None, run);
            assert!(matches!(r.status, Status::Mismatch { .. }), "{:?}", r.status);
            assert!(r.timing.is_none());

            let mut fine = Flaky { runs: 0, fail_at: 0, out: vec![0.0] };
            let Ok(mut m) = start_host(&mut fine, k, p, None, None, run) else { panic!("starts") };
            for _ in 0..3 {
                assert!(!complete_now(m.step()));
            }
            m.cancel();
            assert!(complete_now(m.step()), "a cancelled measurement takes no more samples");
            let r = m.finish();
            let t = r.timing.expect("three samples make a record");
            assert_eq!((t.stopped_by, t.samples_ns.len()), (StopReason::Cancelled, 3));
        });
    }
}
