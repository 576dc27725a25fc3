//! Test fixtures shared by the harness's unit tests: measured records built from given samples,
//! and normal draws.

use crate::catalogue::{Params, Size};
use crate::schema::{ColdTiming, Provenance, Record, StopReason, Throughput, TimerInfo, TimerKind, Timing};
use crate::stats::Sample;

/// A measured record of `kernel` at `values` on `backend` with these samples (ns), run `run_id`.
pub fn timed(kernel: &str, values: &[(&'static str, u32)], backend: &str, samples_ns: &[f64], run_id: &str) -> Record {
    let k = crate::cases::kernel_by_id(kernel).unwrap();
    let p = Params { case: "c".into(), values: values.to_vec() };
    let prov = Provenance {
        accelbench_version: "0".into(),
        commit: "c".into(),
        os: "os".into(),
        arch: "x".into(),
        cpu: "cpu".into(),
        date: "d".into(),
        seed: 1,
        browser: None,
        run_id: Some(run_id.to_owned()),
        round: None,
    };
    let mut r = k.base_record(&p, Size::Quick, backend, None, prov);
    let s = Sample::new(samples_ns).unwrap().summary();
    r.throughput = Some(Throughput::from_median(&r.work, s.median_ns));
    r.timing = Some(Timing {
        timer: TimerInfo { kind: TimerKind::HostClock, resolution_ns: 30.0, quantized: false },
        batch: 1,
        warmup: 1,
        samples_ns: samples_ns.to_vec(),
        summary: s,
        stopped_by: StopReason::MaxSamples,
        sampling_wall_ns: None,
        cold: ColdTiming::default(),
        phases: vec![],
    });
    r
}

/// A standard normal draw (Box-Muller) from our deterministic generator.
pub fn normal(rng: &mut crate::rng::InputRng) -> f64 {
    let u1 = f64::from(rng.uniform(1e-7, 1.0));
    let u2 = f64::from(rng.uniform(0.0, 1.0));
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
