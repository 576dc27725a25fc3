//! Scaling series found in records: measured cases of one kernel that differ in exactly one
//! parameter (a `--sweep`, or catalogue sets such as matmul's `512-b1/-b4/-b16`), one line per
//! backend. The page and the terminal report draw them; found from the records themselves, so
//! a result file read back years later shows the same charts.

use std::collections::BTreeMap;

use crate::schema::{Record, Status};

/// Compute-bound kernels are shown in GFLOP/s, memory-bound ones in GB/s (by arithmetic
/// intensity, flops per byte moved).
pub fn headline(r: &Record) -> Option<(f64, &'static str)> {
    let t = r.throughput?;
    let intensity = if r.work.bytes > 0.0 { r.work.flops / r.work.bytes } else { f64::INFINITY };
    Some(if intensity >= 4.0 { (t.gflops, "GFLOP/s") } else { (t.gbps, "GB/s") })
}

/// One point of a line: the swept value, the median and the headline throughput.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub x: u64,
    pub median_ns: f64,
    pub throughput: f64,
    pub unit: &'static str,
}

/// One kernel with one parameter swept and the others held fixed, on every backend measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaling {
    pub kernel: String,
    /// The swept parameter.
    pub param: String,
    /// The parameters held fixed, `key=value,...`.
    pub fixed: String,
    /// Per backend, its points in increasing `x`.
    pub lines: Vec<(String, Vec<Point>)>,
}

impl Scaling {
    pub fn title(&self) -> String {
        if self.fixed.is_empty() {
            format!("{} over {}", self.kernel, self.param)
        } else {
            format!("{} over {} ({})", self.kernel, self.param, self.fixed)
        }
    }

    /// Every swept value any backend has, in increasing order.
    pub fn xs(&self) -> Vec<u64> {
        let mut xs: Vec<u64> = self.lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.x)).collect();
        xs.sort_unstable();
        xs.dedup();
        xs
    }

    /// A log axis reads a geometric sweep evenly; a short linear one reads better linear.
    pub fn log_x(&self) -> bool {
        let xs = self.xs();
        match (xs.first(), xs.last()) {
            (Some(&lo), Some(&hi)) if lo > 0 => hi as f64 / lo as f64 >= 8.0,
            _ => false,
        }
    }
}

/// Every scaling series in `records`, in the order their kernels first appear. A series needs at
/// least two values of its parameter on some backend.
pub fn find(records: &[Record]) -> Vec<Scaling> {
    // (kernel, param, fixed) -> backend -> x -> point; BTreeMaps for a stable order within.
    type Lines = BTreeMap<String, BTreeMap<u64, Point>>;
    let mut groups: Vec<((String, String, String), Lines)> = Vec::new();
    for r in records.iter().filter(|r| r.status == Status::Measured) {
        let (Some(t), Some((throughput, unit))) = (&r.timing, headline(r)) else { continue };
        for (param, &x) in &r.params {
            let fixed: Vec<String> =
                r.params.iter().filter(|(k, _)| *k != param).map(|(k, v)| format!("{k}={v}")).collect();
            let key = (r.kernel.clone(), param.clone(), fixed.join(","));
            let idx = match groups.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    groups.push((key, BTreeMap::new()));
                    groups.len() - 1
                }
            };
            let point = Point { x, median_ns: t.summary.median_ns, throughput, unit };
            // A repeated case (several seeds, a rerun) keeps the first record.
            groups[idx].1.entry(r.backend.clone()).or_default().entry(x).or_insert(point);
        }
    }
    groups
        .into_iter()
        .filter(|(_, lines)| lines.values().any(|pts| pts.len() >= 2))
        .map(|((kernel, param, fixed), lines)| Scaling {
            kernel,
            param,
            fixed,
            lines: lines.into_iter().map(|(b, pts)| (b, pts.into_values().collect())).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(kernel: &str, values: &[(&'static str, u32)], backend: &str, median_ns: f64) -> Record {
        crate::testing::timed(kernel, values, backend, &[median_ns, median_ns], "r")
    }

    #[test]
    fn a_sweep_is_one_series_with_a_line_per_backend_and_unrelated_cases_are_not() {
        let mut rs = Vec::new();
        for (i, cols) in [128u32, 256, 512, 1024].into_iter().enumerate() {
            for b in ["native-cpu", "chrome-webgpu"] {
                rs.push(measured("softmax", &[("rows", 64), ("cols", cols)], b, 1000.0 * (i + 1) as f64));
            }
        }
        // Two cases differing in both keys are no series; a failed record is never a point.
        rs.push(measured("layernorm", &[("rows", 64), ("cols", 768)], "native-cpu", 5.0));
        rs.push(measured("layernorm", &[("rows", 5), ("cols", 1001)], "native-cpu", 5.0));
        let mut failed = measured("softmax", &[("rows", 64), ("cols", 2048)], "native-cpu", 1.0);
        failed.status = Status::Failed { reason: "x".into() };
        rs.push(failed);

        let found = find(&rs);
        assert_eq!(found.len(), 1, "{found:#?}");
        let s = &found[0];
        assert_eq!((s.kernel.as_str(), s.param.as_str(), s.fixed.as_str()), ("softmax", "cols", "rows=64"));
        assert_eq!(s.lines.iter().map(|(b, _)| b.as_str()).collect::<Vec<_>>(), ["chrome-webgpu", "native-cpu"]);
        assert_eq!(s.xs(), [128, 256, 512, 1024]);
        assert!(s.log_x());
        let cpu = &s.lines[1].1;
        assert_eq!(cpu.iter().map(|p| p.median_ns).collect::<Vec<_>>(), [1000.0, 2000.0, 3000.0, 4000.0]);
        assert!(cpu.iter().all(|p| p.throughput > 0.0));
    }
}
