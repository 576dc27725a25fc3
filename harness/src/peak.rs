//! Practical peaks and each record's share of them: the peak family's records (bandwidth, FMA
//! per dtype) set, per backend and adapter, the best rate measured there, and every other
//! record's achieved GB/s and GFLOP/s are divided by those of the same run.
//!
//! Practical, not datasheet: the denominators are what this adapter did with our own simplest
//! kernels in this run, so a share near 1 says the kernel is as good as it gets there, and the
//! shares of two adapters compare how well each is used, not how fast each is.

use std::collections::BTreeMap;

use crate::catalogue::Family;
use crate::schema::{PeakShare, Record, Status};

/// One backend and adapter's peaks, the best seen so far, each with the kernel that set it.
#[derive(Debug, Default, Clone)]
struct TargetPeaks {
    gbps: Option<(f64, String)>,
    /// Per arithmetic dtype (`f32`, `f16`).
    gflops: BTreeMap<String, (f64, String)>,
}

/// The peaks of a run, learnt from its records as they arrive.
#[derive(Debug, Default, Clone)]
pub struct Peaks {
    targets: BTreeMap<(String, String), TargetPeaks>,
}

fn target(r: &Record) -> (String, String) {
    (r.backend.clone(), r.adapter.as_ref().map_or_else(String::new, |a| a.name.clone()))
}

/// Whether `value` beats the peak in `slot` (or there is none yet).
fn beats(slot: Option<&(f64, String)>, value: f64) -> bool {
    slot.is_none_or(|(v, _)| value > *v)
}

impl Peaks {
    /// The peaks of `records`, then each record's share of them.
    pub fn annotate_all(records: &mut [Record]) {
        let mut peaks = Peaks::default();
        for r in records.iter() {
            peaks.observe(r);
        }
        for r in records.iter_mut() {
            peaks.annotate(r);
        }
    }

    /// Learns from `r` if it is a measured peak record (several rounds: the best counts).
    pub fn observe(&mut self, r: &Record) {
        let (Status::Measured, Some(t)) = (&r.status, &r.throughput) else { return };
        if r.family != Family::Peak.name() {
            return;
        }
        let peaks = self.targets.entry(target(r)).or_default();
        if r.work.flops > 0.0 {
            if beats(peaks.gflops.get(&r.dtype), t.gflops) {
                peaks.gflops.insert(r.dtype.clone(), (t.gflops, r.kernel.clone()));
            }
        } else if beats(peaks.gbps.as_ref(), t.gbps) {
            peaks.gbps = Some((t.gbps, r.kernel.clone()));
        }
    }

    /// `r`'s share of its target's peaks, if any were measured; the FMA peak of its dtype
    /// (fp16 kernels against the fp16 peak, everything else, quantised products included,
    /// against fp32's, in which they compute).
    pub fn share(&self, r: &Record) -> Option<PeakShare> {
        let (Status::Measured, Some(t)) = (&r.status, &r.throughput) else { return None };
        let peaks = self.targets.get(&target(r))?;
        let arith = if r.dtype == "f16" { "f16" } else { "f32" };
        let compute_peak = peaks.gflops.get(arith).filter(|_| r.work.flops > 0.0);
        let memory_peak = peaks.gbps.as_ref().filter(|_| r.work.bytes > 0.0);
        let memory = memory_peak.map(|(p, _)| t.gbps / p);
        let compute = compute_peak.map(|(p, _)| t.gflops / p);
        let (bound, fraction) = match (memory, compute) {
            (Some(m), Some(c)) if c > m => ("compute", c),
            (Some(m), _) => ("memory", m),
            (None, Some(c)) => ("compute", c),
            (None, None) => return None,
        };
        Some(PeakShare {
            bound: bound.into(),
            fraction,
            memory,
            compute,
            peak_gbps: memory_peak.map(|(p, _)| *p),
            peak_gflops: compute_peak.map(|(p, _)| *p),
            against: memory_peak.into_iter().chain(compute_peak).map(|(_, k)| k.clone()).collect(),
        })
    }

    /// Sets `r.peak` from the peaks known now.
    pub fn annotate(&self, r: &mut Record) {
        r.peak = self.share(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(kernel: &str, values: &[(&'static str, u32)], backend: &str, median_ns: f64) -> Record {
        crate::testing::timed(kernel, values, backend, &[median_ns; 5], "run")
    }

    #[test]
    fn records_are_shares_of_their_own_targets_peaks_and_bound_by_the_larger() {
        // 64 MiB moved in 10 ms: 6.7 GB/s; 134 MFLOP in 10 ms: 13.4 GFLOP/s.
        let bw = measured("peak-bandwidth", &[("len", 1 << 23)], "native-cpu", 1e7);
        let fma = measured("peak-fma-f32", &[("threads", 16384), ("iters", 256)], "native-cpu", 1e7);
        // A slower repeat (another round) does not lower the peak.
        let bw_slow = measured("peak-bandwidth", &[("len", 1 << 23)], "native-cpu", 2e7);
        let gelu = measured("gelu-tanh", &[("len", 1 << 20)], "native-cpu", 1e6);
        let matmul = measured("matmul-f32", &[("m", 256), ("n", 256), ("k", 256), ("batch", 1)], "native-cpu", 1e6);
        let elsewhere = measured("gelu-tanh", &[("len", 1 << 20)], "native-wgpu-vulkan", 1e6);
        let mut rs = vec![bw.clone(), bw_slow, fma.clone(), gelu.clone(), matmul.clone(), elsewhere];
        Peaks::annotate_all(&mut rs);

        let peak_gbps = bw.throughput.as_ref().unwrap().gbps;
        let g = rs[3].peak.as_ref().expect("gelu has a share");
        assert_eq!(g.peak_gbps, Some(peak_gbps));
        let want = gelu.throughput.as_ref().unwrap().gbps / peak_gbps;
        assert!((g.memory.unwrap() - want).abs() < 1e-12);
        assert_eq!(g.against, ["peak-bandwidth", "peak-fma-f32"]);

        let m = rs[4].peak.as_ref().unwrap();
        let compute = matmul.throughput.as_ref().unwrap().gflops / fma.throughput.as_ref().unwrap().gflops;
        assert_eq!((m.bound.as_str(), m.compute), ("compute", Some(compute)));
        assert!(m.compute.unwrap() > m.memory.unwrap());
        // The peak records are their own yardstick: the best is 1.
        assert_eq!(rs[0].peak.as_ref().unwrap().fraction, 1.0);
        assert!(rs[5].peak.is_none(), "no peak was measured on that backend");
    }

    #[test]
    fn fp16_kernels_are_against_the_fp16_peak_and_none_without_it() {
        let bw = measured("peak-bandwidth", &[("len", 1 << 23)], "native-wgpu-vulkan", 1e7);
        let f16 =
            measured("matmul-f16", &[("m", 256), ("n", 256), ("k", 256), ("batch", 1)], "native-wgpu-vulkan", 1e6);
        let mut rs = vec![bw, f16];
        Peaks::annotate_all(&mut rs);
        let s = rs[1].peak.as_ref().unwrap();
        assert_eq!((s.compute, s.bound.as_str()), (None, "memory"), "no fp16 FMA peak was measured");
        let fma16 = measured("peak-fma-f16", &[("threads", 16384), ("iters", 256)], "native-wgpu-vulkan", 5e6);
        rs.push(fma16);
        Peaks::annotate_all(&mut rs);
        assert_eq!(rs[1].peak.as_ref().unwrap().against, ["peak-bandwidth", "peak-fma-f16"]);
    }
}
