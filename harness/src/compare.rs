//! Regression verdicts across runs: matching two sides' records by (kernel, case, dtype,
//! backend, adapter), treating every (run, round) of a side as one unit, dividing out the drift
//! the whole backend shows in each unit, and judging the ratio's interval against a threshold.
//!
//! Why units: the bootstrap interval of one run covers only the noise inside that run; on a
//! shared machine the runs themselves differ (CPU frequency steps, other tenants, where buffers
//! land), so two separate runs of the same build disagree by more than either interval says.
//! With several units a side (`--rounds N`, or the records of several runs in one file) the
//! interval is a Welch t interval over the units' log medians, which carries that between-run
//! spread. With one unit a side the spread is unknown, and the interval is widened by a
//! documented floor per backend class ([`single_run_floor`]): a single run against a single run
//! answers `inconclusive` unless the change is larger than runs here ever drift.
//!
//! Why drift correction: a unit's speed as a whole (a process that ran at a lower clock) moves
//! every kernel on its backend together, so each record is divided by the geometric mean of the
//! same unit's other kernels on that backend (leave-one-out, only kernels present in every unit
//! of both sides). What is left is this kernel's change relative to the rest; how much the
//! whole backend moved is reported beside it ([`Spread::drift`]), so a change that slows
//! everything is still visible.

use std::collections::BTreeMap;

use crate::schema::{Record, Status};
use crate::stats::{RatioEstimate, Sample, Verdict, log_median_se, median_ratio, student_t_quantile};

/// What identifies "the same measurement" across runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MatchKey {
    pub kernel: String,
    pub case: String,
    pub dtype: String,
    pub backend: String,
    pub adapter: String,
}

impl MatchKey {
    pub fn of(r: &Record) -> MatchKey {
        MatchKey {
            kernel: r.kernel.clone(),
            case: r.case.clone(),
            dtype: r.dtype.clone(),
            backend: r.backend.clone(),
            adapter: r.adapter.as_ref().map_or_else(|| "-".to_owned(), |a| a.name.clone()),
        }
    }
}

/// How a comparison's interval was built: the units it had and the between-run spread it used.
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    /// Units (runs or rounds) on each side.
    pub units_base: usize,
    pub units_cand: usize,
    /// Standard deviation of the units' log medians (about the coefficient of variation between
    /// runs) that the interval used; `None` with one unit a side.
    pub between_run_sd: Option<f64>,
    /// The relative floor the interval was widened by, with one unit a side.
    pub floor: Option<f64>,
    /// How much the rest of this backend moved, candidate over base (the geometric mean ratio
    /// of the other kernels divided out); `None` where too few kernels were common to correct.
    pub drift: Option<f64>,
    /// How unevenly the other kernels moved (the standard deviation of their log ratios beyond
    /// their own noise): the drift divided out is only known this well for any one kernel, so
    /// it widens the interval.
    pub drift_sd: Option<f64>,
    /// The plain ratio of the sides' medians, before drift correction.
    pub raw_ratio: f64,
    /// The sides were measured together (the same run and round ids on both, as an interleaved
    /// A/B run makes them), so the interval is over the rounds' paired differences.
    pub paired: bool,
}

impl Spread {
    pub fn to_api(&self) -> crate::schema::CompareSpread {
        crate::schema::CompareSpread {
            runs_base: self.units_base as u32,
            runs_candidate: self.units_cand as u32,
            between_run_sd: self.between_run_sd,
            floor: self.floor,
            drift: self.drift,
            drift_sd: self.drift_sd,
            raw_ratio: self.raw_ratio,
            paired: self.paired,
        }
    }

    /// One line for tables: units, the spread and the correction used.
    pub fn describe(&self) -> String {
        let mut s = format!("{}+{} runs", self.units_base, self.units_cand);
        if self.paired {
            s.push_str(" paired");
        }
        if let Some(sd) = self.between_run_sd {
            s.push_str(&format!(", spread {:.1}%", sd * 100.0));
        }
        if let Some(f) = self.floor {
            s.push_str(&format!(", floor ±{:.0}%", f * 100.0));
        }
        if let Some(d) = self.drift {
            s.push_str(&format!(", drift {d:.3}x removed"));
            if let Some(h) = self.drift_sd.filter(|h| *h > 0.0005) {
                s.push_str(&format!(" ±{:.1}%", h * 100.0));
            }
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Compared {
        base_median_ns: f64,
        cand_median_ns: f64,
        ratio: RatioEstimate,
        verdict: Verdict,
        spread: Spread,
    },
    /// One side has no usable samples; the reason says which and why.
    NotComparable(String),
    OnlyInBase,
    OnlyInCandidate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub key: MatchKey,
    pub outcome: Outcome,
}

impl Comparison {
    pub fn is_regression(&self) -> bool {
        matches!(self.outcome, Outcome::Compared { verdict: Verdict::Slower, .. })
    }

    /// The HTTP API's and `compare --format json`'s row.
    pub fn into_row(self) -> crate::schema::CompareRow {
        let hint = self.hint().map(str::to_owned);
        let k = self.key;
        let mut row = crate::schema::CompareRow {
            kernel: k.kernel,
            case: k.case,
            dtype: k.dtype,
            backend: k.backend,
            adapter: k.adapter,
            verdict: String::new(),
            base_median_ns: None,
            candidate_median_ns: None,
            ratio: None,
            ratio_ci_low: None,
            ratio_ci_high: None,
            spread: None,
            reason: hint,
        };
        match self.outcome {
            Outcome::Compared { base_median_ns, cand_median_ns, ratio, verdict, spread } => {
                row.verdict = verdict.label().into();
                row.spread = Some(spread.to_api());
                row.base_median_ns = Some(base_median_ns);
                row.candidate_median_ns = Some(cand_median_ns);
                (row.ratio, row.ratio_ci_low, row.ratio_ci_high) =
                    (Some(ratio.ratio), Some(ratio.low), Some(ratio.high));
            }
            Outcome::NotComparable(why) => (row.verdict, row.reason) = ("not-comparable".into(), Some(why)),
            Outcome::OnlyInBase => row.verdict = "only-in-base".into(),
            Outcome::OnlyInCandidate => row.verdict = "only-in-candidate".into(),
        }
        row
    }

    /// What would give a verdict where one run a side could not tell.
    pub fn hint(&self) -> Option<&'static str> {
        self.needs_more_runs().then_some(NEEDS_MORE_RUNS)
    }

    /// Single-run comparisons that could not tell: what to do for a verdict.
    pub fn needs_more_runs(&self) -> bool {
        matches!(&self.outcome, Outcome::Compared { verdict: Verdict::Inconclusive, spread, .. } if spread.floor.is_some())
    }
}

/// What to do when one run a side cannot tell.
pub const NEEDS_MORE_RUNS: &str = "a single invocation a side cannot tell drift between runs from a change: measure each side with `--rounds 5`, best in several invocations whose files are concatenated";

/// The confidence level of comparison intervals: 99%, so that over the hundreds of records a
/// CI run compares, a false `slower` stays rare (one-sided 0.5% per record at most).
pub const LEVEL: f64 = 0.99;
/// Drift is divided out only with at least this many other kernels on the backend.
pub const MIN_ANCHORS: usize = 3;

/// The between-run floor applied when each side is one run: the largest drift two separate
/// runs of one build showed, per backend class. CPU-class backends (native-cpu, the reference,
/// WASM, and software adapters: lavapipe, llvmpipe, SwiftShader) share a CPU whose clock steps by
/// up to 45% on shared machines (A/A runs here differed by up to 1.32x), so 60% covers a step
/// plus the runs' other spread; hardware GPUs boost and throttle by less, 15% by default.
pub fn single_run_floor(r: &Record) -> (&'static str, f64) {
    let cpu_backend = r.backend == "native-cpu" || r.backend == "native-reference" || r.backend.ends_with("-wasm");
    let software = r.adapter.as_ref().is_some_and(|a| {
        let n = a.name.to_lowercase();
        a.fallback
            || a.device_type.eq_ignore_ascii_case("cpu")
            || ["llvmpipe", "lavapipe", "swiftshader"].iter().any(|s| n.contains(s))
    });
    if cpu_backend || software { ("CPU-class", 0.6) } else { ("GPU", 0.15) }
}

/// What separate processes of one build differ by beyond their rounds' spread (where buffers
/// and threads land, a sick process): added for a side whose rounds all come from one
/// invocation. Measured here between five invocations of ten rounds on the 2-core VM: about 2%
/// for the typical kernel after drift correction, with tails to 20%; 5% for CPU-class backends,
/// 2% for hardware GPUs.
pub fn process_floor(r: &Record) -> f64 {
    if single_run_floor(r).0 == "GPU" { 0.02 } else { 0.05 }
}

/// Distinct invocations among a side's units.
fn runs(us: &[Unit<'_>]) -> usize {
    let mut ids: Vec<&str> = us.iter().map(|u| run_of(u)).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

/// A unit's invocation: its run id (without the suffix that keeps repeated records apart).
fn run_of<'u>(u: &'u Unit<'_>) -> &'u str {
    if u.unit.0.is_empty() || u.unit.0.starts_with('#') { &u.unit.0 } else { u.unit.0.split('#').next().unwrap_or("") }
}

/// `x` (one value per unit) as one value per invocation where a side has several.
fn per_run(x: &[f64], us: &[Unit<'_>]) -> Vec<f64> {
    if runs(us) < 2 {
        return x.to_vec();
    }
    let mut groups: Vec<(&str, Vec<f64>)> = Vec::new();
    for (v, u) in x.iter().zip(us) {
        match groups.iter_mut().find(|(id, _)| *id == run_of(u)) {
            Some((_, g)) => g.push(*v),
            None => groups.push((run_of(u), vec![*v])),
        }
    }
    groups.iter().map(|(_, g)| mean(g)).collect()
}

/// One run's (or round's) measurement of a key.
struct Unit<'a> {
    unit: (String, u32),
    record: &'a Record,
    sample: Sample,
    ln_median: f64,
}

fn samples(r: &Record) -> Result<Sample, String> {
    if r.status != Status::Measured {
        return Err(format!("{} in {}", r.status.label(), r.backend));
    }
    let t = r.timing.as_ref().ok_or_else(|| "measured record without timing".to_owned())?;
    Sample::new(&t.samples_ns).map_err(|e| e.to_string())
}

/// Records grouped by key in first-appearance order.
fn group(records: &[Record]) -> Vec<(MatchKey, Vec<&Record>)> {
    let mut out: Vec<(MatchKey, Vec<&Record>)> = Vec::new();
    for r in records {
        let k = MatchKey::of(r);
        match out.iter_mut().find(|(g, _)| *g == k) {
            Some((_, v)) => v.push(r),
            None => out.push((k, vec![r])),
        }
    }
    out
}

/// A side's measured units of one key; a record repeated under the same unit id (files from
/// before run ids) counts as a unit of its own.
fn units<'a>(records: &[&'a Record]) -> Result<Vec<Unit<'a>>, String> {
    let mut out: Vec<Unit<'a>> = Vec::new();
    let mut first_err = None;
    for (i, r) in records.iter().enumerate() {
        match samples(r) {
            Ok(sample) => {
                let mut id = (r.provenance.run_id.clone().unwrap_or_default(), r.provenance.round.unwrap_or(0));
                if out.iter().any(|u| u.unit == id) {
                    id.0 = format!("{}#{i}", id.0);
                }
                let ln_median = sample.median().max(f64::MIN_POSITIVE).ln();
                out.push(Unit { unit: id, record: r, sample, ln_median });
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if out.is_empty() { Err(first_err.unwrap_or_else(|| "no records".into())) } else { Ok(out) }
}

/// Each key's measured units, or why it has none.
type SideUnits<'a> = Vec<(MatchKey, Result<Vec<Unit<'a>>, String>)>;

fn side_units<'a>(g: &[(MatchKey, Vec<&'a Record>)]) -> SideUnits<'a> {
    g.iter().map(|(k, rs)| (k.clone(), units(rs))).collect()
}

type BackendKey = (String, String);

fn backend_of(k: &MatchKey) -> BackendKey {
    (k.backend.clone(), k.adapter.clone())
}

/// Per side: for each unit id, each key's log median.
type UnitTable<'k> = BTreeMap<(String, u32), BTreeMap<&'k MatchKey, f64>>;

fn unit_table<'k>(side: &'k SideUnits<'_>) -> UnitTable<'k> {
    let mut t: UnitTable<'k> = BTreeMap::new();
    for (k, us) in side.iter().filter_map(|(k, us)| us.as_ref().ok().map(|us| (k, us))) {
        for u in us {
            t.entry(u.unit.clone()).or_default().insert(k, u.ln_median);
        }
    }
    t
}

/// The anchors of `key`: the other keys on its backend measured in every unit of both sides.
fn anchors<'k>(
    key: &MatchKey,
    common: &[&'k MatchKey],
    base: &UnitTable<'_>,
    cand: &UnitTable<'_>,
) -> Vec<&'k MatchKey> {
    let in_every = |t: &UnitTable<'_>, k: &MatchKey| {
        t.values().filter(|m| m.keys().any(|x| backend_of(x) == backend_of(key))).all(|m| m.contains_key(k))
    };
    common
        .iter()
        .copied()
        .filter(|k| *k != key && backend_of(k) == backend_of(key))
        .filter(|k| in_every(base, k) && in_every(cand, k))
        .collect()
}

/// The mean log median of `anchors` in unit `id`: the unit's speed as a whole.
fn unit_level(t: &UnitTable<'_>, id: &(String, u32), anchors: &[&MatchKey]) -> Option<f64> {
    let m = t.get(id)?;
    let logs: Option<Vec<f64>> = anchors.iter().map(|k| m.get(k).copied()).collect();
    let logs = logs?;
    Some(logs.iter().sum::<f64>() / logs.len() as f64)
}

/// The variance of the anchors' log ratios (candidate over base) beyond what their own
/// between-unit noise explains: how much one kernel's drift may differ from their mean.
fn drift_heterogeneity(anchors: &[&MatchKey], tb: &UnitTable<'_>, tc: &UnitTable<'_>) -> f64 {
    let side = |t: &UnitTable<'_>, k: &MatchKey| -> Vec<f64> { t.values().filter_map(|m| m.get(k).copied()).collect() };
    let se2 = |v: &[f64]| if v.len() > 1 { variance(v) / v.len() as f64 } else { 0.0 };
    let (mut ratios, mut noise) = (Vec::new(), Vec::new());
    for k in anchors {
        let (b, c) = (side(tb, k), side(tc, k));
        if b.is_empty() || c.is_empty() {
            continue;
        }
        ratios.push(mean(&c) - mean(&b));
        noise.push(se2(&b) + se2(&c));
    }
    if ratios.len() < 2 {
        return 0.0;
    }
    (variance(&ratios) - mean(&noise)).max(0.0)
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

fn variance(xs: &[f64]) -> f64 {
    let m = mean(xs);
    xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64
}

/// The variance of a unit's log median from its own bootstrap interval: a lower bound on the
/// between-unit variance, so two units that happen to agree do not claim certainty.
fn within_variance(u: &Unit<'_>) -> f64 {
    u.record.timing.as_ref().map_or(0.0, |t| log_median_se(&t.summary).powi(2))
}

/// Compares candidate against base; `threshold` is relative (0.05 = 5%).
pub fn compare_runs(base: &[Record], cand: &[Record], threshold: f64) -> Vec<Comparison> {
    let (sb, sc) = (side_units(&group(base)), side_units(&group(cand)));
    let (tb, tc) = (unit_table(&sb), unit_table(&sc));
    let is_measured = |side: &SideUnits<'_>, k: &MatchKey| side.iter().any(|(c, us)| c == k && us.is_ok());
    let common: Vec<&MatchKey> =
        sb.iter().map(|(k, _)| k).filter(|k| is_measured(&sb, k) && is_measured(&sc, k)).collect();

    let mut out = Vec::new();
    for (key, ub) in &sb {
        let outcome = match sc.iter().find(|(k, _)| k == key) {
            None => Outcome::OnlyInBase,
            Some((_, uc)) => match (ub, uc) {
                (Ok(ub), Ok(uc)) => {
                    let a = anchors(key, &common, &tb, &tc);
                    compare_units(ub, uc, &a, &tb, &tc, threshold)
                }
                (Err(e), _) => Outcome::NotComparable(format!("base: {e}")),
                (_, Err(e)) => Outcome::NotComparable(format!("candidate: {e}")),
            },
        };
        out.push(Comparison { key: key.clone(), outcome });
    }
    for (key, _) in &sc {
        if !sb.iter().any(|(k, _)| k == key) {
            out.push(Comparison { key: key.clone(), outcome: Outcome::OnlyInCandidate });
        }
    }
    out
}

fn compare_units(
    ub: &[Unit<'_>],
    uc: &[Unit<'_>],
    anchors: &[&MatchKey],
    tb: &UnitTable<'_>,
    tc: &UnitTable<'_>,
    threshold: f64,
) -> Outcome {
    // Each unit's level (its speed as a whole), where enough kernels are common to tell.
    let levels = |us: &[Unit<'_>], t: &UnitTable<'_>| -> Option<Vec<f64>> {
        if anchors.len() < MIN_ANCHORS {
            return None;
        }
        us.iter().map(|u| unit_level(t, &u.unit, anchors)).collect()
    };
    let (lb, lc) = match (levels(ub, tb), levels(uc, tc)) {
        (Some(b), Some(c)) => (Some(b), Some(c)),
        _ => (None, None),
    };
    let corrected = |us: &[Unit<'_>], l: &Option<Vec<f64>>| -> Vec<f64> {
        us.iter().enumerate().map(|(i, u)| u.ln_median - l.as_ref().map_or(0.0, |l| l[i])).collect()
    };
    let (xb, xc) = (corrected(ub, &lb), corrected(uc, &lc));
    let drift_ln = match (&lb, &lc) {
        (Some(b), Some(c)) => Some(mean(c) - mean(b)),
        _ => None,
    };
    let raw_ratio = (mean(&uc.iter().map(|u| u.ln_median).collect::<Vec<_>>())
        - mean(&ub.iter().map(|u| u.ln_median).collect::<Vec<_>>()))
    .exp();
    let pooled_median = |us: &[Unit<'_>]| {
        let all: Vec<f64> = us.iter().flat_map(|u| u.sample.sorted().iter().copied()).collect();
        Sample::new(&all).map_or(f64::NAN, |s| s.median())
    };
    let mut spread = Spread {
        units_base: ub.len(),
        units_cand: uc.len(),
        between_run_sd: None,
        floor: None,
        drift: drift_ln.map(f64::exp),
        drift_sd: None,
        raw_ratio,
        paired: false,
    };
    // Kernels do not all move alike with the machine (a clock step slows compute-bound code
    // more than barrier-bound code): the correction's own uncertainty for this kernel.
    let het2 = if drift_ln.is_some() { drift_heterogeneity(anchors, tb, tc) } else { 0.0 };
    if drift_ln.is_some() {
        spread.drift_sd = Some(het2.sqrt());
    }
    let within = |us: &[Unit<'_>]| mean(&us.iter().map(within_variance).collect::<Vec<_>>());
    // Paired where every unit of one side has its twin, measured at the same time, on the other.
    // Records without run ids (files from before them) are never taken for twins.
    let identified = ub.iter().all(|u| !u.unit.0.is_empty() && !u.unit.0.starts_with('#'));
    let twins: Option<Vec<usize>> = (identified && ub.len() == uc.len() && ub.len() > 1)
        .then(|| ub.iter().map(|b| uc.iter().position(|c| c.unit == b.unit)).collect::<Option<Vec<usize>>>())
        .flatten();
    let ratio = if let Some(twins) = twins {
        let d: Vec<f64> = twins.iter().enumerate().map(|(i, &j)| xc[j] - xb[i]).collect();
        let var = variance(&d).max(within(ub) + within(uc));
        spread.paired = true;
        spread.between_run_sd = Some(var.sqrt());
        let (m, n) = (mean(&d), d.len() as f64);
        let t = student_t_quantile(0.5 + LEVEL / 2.0, n - 1.0) * (var / n + het2).sqrt();
        RatioEstimate { ratio: m.exp(), low: (m - t).exp(), high: (m + t).exp() }
    } else if ub.len() == 1 && uc.len() == 1 {
        // One unit a side: the samples' bootstrap, corrected for drift, widened by the floor.
        let r = median_ratio(&ub[0].sample, &uc[0].sample, LEVEL, 2000);
        let d = drift_ln.map_or(1.0, |d| (-d).exp());
        let (_, floor) = single_run_floor(ub[0].record);
        spread.floor = Some(floor);
        RatioEstimate { ratio: r.ratio * d, low: r.low * d / (1.0 + floor), high: r.high * d * (1.0 + floor) }
    } else {
        // A side of several invocations is judged by its invocations (rounds averaged within
        // each), which carries what differs between processes; rounds of one invocation cannot
        // see that, so a process-level floor is added for such a side.
        let (yb, yc) = (per_run(&xb, ub), per_run(&xc, uc));
        let process2 = |us: &[Unit<'_>]| if runs(us) >= 2 { 0.0 } else { process_floor(us[0].record).powi(2) };
        let (pb, pc) = (process2(ub), process2(uc));
        if pb + pc > 0.0 {
            spread.floor = Some(pb.max(pc).sqrt());
        }
        let var = |x: &[f64], us: &[Unit<'_>]| if x.len() > 1 { Some(variance(x).max(within(us))) } else { None };
        let (vb, vc) = (var(&yb, ub), var(&yc, uc));
        let (nb, nc) = (yb.len() as f64, yc.len() as f64);
        let (xb, xc) = (yb, yc);
        // Welch's interval; with one unit on a side, that side is assumed to spread like the other.
        let (se2, df) = match (vb, vc) {
            (Some(vb), Some(vc)) => {
                let (sb, sc) = (vb / nb, vc / nc);
                let df = (sb + sc).powi(2) / (sb * sb / (nb - 1.0) + sc * sc / (nc - 1.0));
                (sb + sc, if df.is_finite() { df } else { nb + nc - 2.0 })
            }
            (Some(v), None) => (v * (1.0 / nb + 1.0 / nc), nb - 1.0),
            (None, Some(v)) => (v * (1.0 / nb + 1.0 / nc), nc - 1.0),
            (None, None) => unreachable!("one unit a side is handled above"),
        };
        spread.between_run_sd = Some(vb.into_iter().chain(vc).fold(0.0, f64::max).sqrt());
        let d = mean(&xc) - mean(&xb);
        let t = student_t_quantile(0.5 + LEVEL / 2.0, df) * (se2 + het2 + pb + pc).sqrt();
        RatioEstimate { ratio: d.exp(), low: (d - t).exp(), high: (d + t).exp() }
    };
    Outcome::Compared {
        base_median_ns: pooled_median(ub),
        cand_median_ns: pooled_median(uc),
        ratio,
        verdict: Verdict::of(&ratio, threshold),
        spread,
    }
}

/// One record of a run set beside the same kernel and case on the native GPU and CPU backends of
/// the same run: the browser-versus-native view of `accelbench run`.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossRow<'a> {
    pub record: &'a Record,
    /// The native wgpu backend it is compared with (Vulkan, Metal, DX12, then GL).
    pub native_gpu: Option<&'a Record>,
    pub native_cpu: Option<&'a Record>,
    /// This median over the native GPU's (above 1: slower than native).
    pub vs_native_gpu: Option<f64>,
    /// native-cpu's median over this one (above 1: faster than native CPU code).
    pub speedup_vs_cpu: Option<f64>,
}

fn measured_median(r: &Record) -> Option<f64> {
    r.timing.as_ref().filter(|_| r.status == Status::Measured).map(|t| t.summary.median_ns)
}

/// Rows in the records' order, each with its native peers (same kernel, case and dtype).
pub fn cross_backend(records: &[Record]) -> Vec<CrossRow<'_>> {
    let peer = |r: &Record, pick: &dyn Fn(&str) -> Option<usize>| {
        records
            .iter()
            .filter(|n| n.kernel == r.kernel && n.case == r.case && n.dtype == r.dtype && n.size == r.size)
            .filter_map(|n| pick(&n.backend).map(|rank| (rank, n)))
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, n)| n)
    };
    let gpu_rank = |b: &str| {
        ["native-wgpu-vulkan", "native-wgpu-metal", "native-wgpu-dx12", "native-wgpu-gl"].iter().position(|x| *x == b)
    };
    let cpu_rank = |b: &str| (b == "native-cpu").then_some(0);
    records
        .iter()
        .map(|r| {
            let native_gpu = peer(r, &gpu_rank);
            let native_cpu = peer(r, &cpu_rank);
            let m = measured_median(r);
            let vs_native_gpu = match (m, native_gpu.and_then(measured_median)) {
                (Some(a), Some(b)) if b > 0.0 && native_gpu.is_some_and(|n| n.backend != r.backend) => Some(a / b),
                _ => None,
            };
            let speedup_vs_cpu = match (m, native_cpu.and_then(measured_median)) {
                (Some(a), Some(b)) if a > 0.0 && r.backend != "native-cpu" => Some(b / a),
                _ => None,
            };
            CrossRow { record: r, native_gpu, native_cpu, vs_native_gpu, speedup_vs_cpu }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::InputRng;

    use crate::testing::normal;

    /// One side: `units` invocations of 8 kernels on one backend, as this machine behaves: each at
    /// its own speed (a third of them after a CPU clock step `1 + drift`, all with 3% more
    /// spread), each kernel's run-level draw off by 2% more (where its buffers landed), 30
    /// samples with 3% noise. Kernel 0 takes `slowdown` longer.
    fn side(rng: &mut InputRng, tag: &str, units: usize, drift: f64, slowdown: f64) -> Vec<Record> {
        let mut out = Vec::new();
        for u in 0..units {
            let step = if rng.uniform(0.0, 1.0) < 0.33 { 1.0 + drift } else { 1.0 };
            let speed = step * (0.03 * normal(rng)).exp();
            for k in 0..8u32 {
                let level = 1000.0 * f64::from(k + 1) * speed * (0.02 * normal(rng)).exp();
                let level = if k == 0 { level * slowdown } else { level };
                let xs: Vec<f64> = (0..30).map(|_| level * (0.03 * normal(rng)).exp()).collect();
                // Each unit its own invocation: what between-run statistics are for.
                let mut r = crate::testing::timed(
                    "softmax",
                    &[("rows", 8), ("cols", 64)],
                    "native-cpu",
                    &xs,
                    &format!("{tag}{u}"),
                );
                r.case = format!("k{k}");
                out.push(r);
            }
        }
        out
    }

    fn verdict_of_first(base: &[Record], cand: &[Record], threshold: f64) -> (Verdict, Spread) {
        match &compare_runs(base, cand, threshold)[0].outcome {
            Outcome::Compared { verdict, spread, .. } => (*verdict, spread.clone()),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn one_run_a_side_is_never_slower_on_between_run_drift() {
        let mut rng = InputRng::new(1);
        let mut verdicts = BTreeMap::new();
        for _ in 0..200 {
            // Without other kernels to divide drift out by: one kernel a side, a 35% clock step
            // with the other spread on top (up to the 1.45x seen here).
            let b: Vec<Record> = side(&mut rng, "a", 1, 0.35, 1.0).into_iter().take(1).collect();
            let c: Vec<Record> = side(&mut rng, "b", 1, 0.35, 1.0).into_iter().take(1).collect();
            let (v, spread) = verdict_of_first(&b, &c, 0.05);
            assert_eq!(spread.floor, Some(0.6));
            *verdicts.entry(v.label()).or_insert(0) += 1;
        }
        assert_eq!(verdicts.get("slower"), None, "{verdicts:?}");
        assert_eq!(verdicts.get("faster"), None, "{verdicts:?}");
    }

    #[test]
    fn a_run_that_is_twice_as_slow_is_slower_even_from_one_run_a_side() {
        let mut rng = InputRng::new(2);
        let b: Vec<Record> = side(&mut rng, "a", 1, 0.0, 1.0).into_iter().take(1).collect();
        let c: Vec<Record> = side(&mut rng, "b", 1, 0.0, 2.0).into_iter().take(1).collect();
        assert_eq!(verdict_of_first(&b, &c, 0.05).0, Verdict::Slower);
    }

    #[test]
    fn ten_rounds_keep_false_slower_verdicts_rare_and_catch_a_five_percent_slowdown() {
        let mut rng = InputRng::new(3);
        let (mut false_slower, mut caught) = (0, 0);
        // Ten rounds a side: with 2% run-level spread per kernel, five leave a 5% change
        // inside a 99% interval about half the time.
        let trials = 100;
        for _ in 0..trials {
            let (b, c) = (side(&mut rng, "a", 10, 0.45, 1.0), side(&mut rng, "b", 10, 0.45, 1.0));
            let (v, spread) = verdict_of_first(&b, &c, 0.02);
            assert!(spread.drift.is_some() && spread.between_run_sd.is_some() && spread.floor.is_none());
            false_slower += usize::from(v == Verdict::Slower);
            let (b, c) = (side(&mut rng, "a", 10, 0.45, 1.0), side(&mut rng, "b", 10, 0.45, 1.05));
            caught += usize::from(verdict_of_first(&b, &c, 0.02).0 == Verdict::Slower);
        }
        assert!(false_slower <= trials / 100, "{false_slower} false slower in {trials}");
        assert!(caught >= trials * 9 / 10, "caught {caught} of {trials}");
    }

    #[test]
    fn drift_of_the_whole_run_is_divided_out_and_reported() {
        let mut rng = InputRng::new(4);
        let b = side(&mut rng, "a", 3, 0.0, 1.0);
        // The candidate's process ran 40% slower as a whole.
        let mut c = side(&mut rng, "b", 3, 0.0, 1.0);
        for r in &mut c {
            let t = r.timing.as_mut().unwrap();
            t.samples_ns.iter_mut().for_each(|x| *x *= 1.4);
        }
        let cmp = compare_runs(&b, &c, 0.05);
        for row in &cmp {
            let Outcome::Compared { verdict, spread, .. } = &row.outcome else { panic!() };
            assert_ne!(*verdict, Verdict::Slower, "{row:?}");
            let d = spread.drift.unwrap();
            assert!((d - 1.4).abs() < 0.05, "drift {d}");
            assert!((spread.raw_ratio - 1.4).abs() < 0.1);
        }
    }

    #[test]
    fn sides_measured_together_are_compared_round_by_round() {
        let mut rng = InputRng::new(6);
        // Each round's state (a 40% step a third of the time) hits both sides alike.
        let (mut b, mut c) = (Vec::new(), Vec::new());
        for round in 0..5u32 {
            let speed = if rng.uniform(0.0, 1.0) < 0.33 { 1.4 } else { 1.0 };
            for (side, factor) in [(&mut b, 1.0), (&mut c, 1.2)] {
                let xs: Vec<f64> = (0..30).map(|_| 1000.0 * speed * factor * (0.02 * normal(&mut rng)).exp()).collect();
                let mut r = crate::testing::timed("softmax", &[("rows", 8), ("cols", 64)], "native-cpu", &xs, "ab");
                r.provenance.round = Some(round);
                side.push(r);
            }
        }
        let (v, spread) = verdict_of_first(&b, &c, 0.05);
        assert!(spread.paired && spread.between_run_sd.unwrap() < 0.05, "{spread:?}");
        assert_eq!(v, Verdict::Slower);
    }

    #[test]
    fn records_of_several_runs_in_one_file_are_units_and_old_files_still_compare() {
        let mut rng = InputRng::new(5);
        let mut b = side(&mut rng, "a1", 1, 0.05, 1.0);
        b.extend(side(&mut rng, "a2", 1, 0.05, 1.0));
        let c = side(&mut rng, "b", 1, 0.05, 1.0);
        let (_, spread) = verdict_of_first(&b, &c, 0.05);
        assert_eq!((spread.units_base, spread.units_cand), (2, 1));
        // Files without run ids: each repeated record is still a unit of its own.
        for r in b.iter_mut() {
            r.provenance.run_id = None;
            r.provenance.round = None;
        }
        assert_eq!(verdict_of_first(&b, &c, 0.05).1.units_base, 2);
    }
}
