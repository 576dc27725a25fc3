//! Records rendered for the ecosystem: CSV, Markdown (PR comments), Bencher Metric Format and
//! github-action-benchmark JSON. Pure functions of the records; no I/O.

use serde_json::{Map, Value, json};

use crate::compare::{Comparison, Outcome};
use crate::schema::Record;

/// A benchmark's stable name across runs: kernel/case/dtype/backend.
pub fn bench_name(r: &Record) -> String {
    format!("{}/{}/{}/{}", r.kernel, r.case, r.dtype, r.backend)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

pub fn csv(records: &[Record]) -> String {
    let mut out = String::from(
        "kernel,case,dtype,backend,adapter,fallback,status,reason,median_ns,ci_low_ns,ci_high_ns,samples,gflops,gbps,timer,timer_resolution_ns,batch,shader_hash,commit,date\n",
    );
    for r in records {
        let t = r.timing.as_ref();
        let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
        let row = [
            csv_field(&r.kernel),
            csv_field(&r.case),
            r.dtype.clone(),
            csv_field(&r.backend),
            csv_field(r.adapter.as_ref().map_or("", |a| &a.name)),
            r.adapter.as_ref().map_or(String::new(), |a| a.fallback.to_string()),
            r.status.label().to_owned(),
            csv_field(r.status.reason().unwrap_or("")),
            num(t.map(|t| t.summary.median_ns)),
            num(t.map(|t| t.summary.median_ci_low_ns)),
            num(t.map(|t| t.summary.median_ci_high_ns)),
            t.map_or(String::new(), |t| t.summary.n.to_string()),
            num(r.throughput.map(|x| x.gflops)),
            num(r.throughput.map(|x| x.gbps)),
            t.map_or(String::new(), |t| t.timer.kind.to_string()),
            num(t.map(|t| t.timer.resolution_ns)),
            t.map_or(String::new(), |t| t.batch.to_string()),
            r.shader.hash.clone(),
            csv_field(&r.provenance.commit),
            csv_field(&r.provenance.date),
        ];
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn fmt_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// A reduced-precision record's error against the f32 result (relative RMS), e.g. `0.38%`;
/// empty for f32 kernels.
pub fn fmt_vs_f32(r: &Record) -> String {
    r.check.as_ref().and_then(|c| c.vs_f32.as_ref()).map_or(String::new(), |e| format!("{:.2}%", 100.0 * e.rel_rms_err))
}

/// A record's share of its backend's practical peak, e.g. `42% mem` or `7.1% compute`; empty
/// where no peak was measured beside it.
pub fn fmt_peak(r: &Record) -> String {
    r.peak.as_ref().map_or(String::new(), |p| {
        let pct = 100.0 * p.fraction;
        let bound = if p.bound == "memory" { "mem" } else { "compute" };
        if pct >= 10.0 { format!("{pct:.0}% {bound}") } else { format!("{pct:.1}% {bound}") }
    })
}

/// The implementation a GPU record ran and how it was chosen, e.g. `row-per-invocation
/// (tuned)`; empty on CPU backends and where nothing ran.
pub fn fmt_variant(r: &Record) -> String {
    use crate::schema::AutotuneHow;
    let Some(v) = &r.variant else { return String::new() };
    match r.autotune.as_ref().map(|a| a.how) {
        Some(AutotuneHow::Off) => format!("{v} (autotune off)"),
        Some(AutotuneHow::Only) => format!("{v} (only one)"),
        Some(AutotuneHow::Tuned) => format!("{v} (tuned)"),
        Some(AutotuneHow::CacheHit) => format!("{v} (cached choice)"),
        Some(AutotuneHow::Fixed) => format!("{v} (fixed)"),
        None => v.clone(),
    }
}

pub fn markdown(records: &[Record]) -> String {
    let mut out = String::from(
        "| kernel | case | backend | adapter | status | median | 95% CI | GFLOP/s | GB/s | of peak | timer | error vs f32 (rel. RMS) | variant |\n|---|---|---|---|---|---:|---:|---:|---:|---:|---|---:|---|\n",
    );
    for r in records {
        let adapter = r
            .adapter
            .as_ref()
            .map_or("-".to_owned(), |a| if a.fallback { format!("{} (software)", a.name) } else { a.name.clone() });
        let (median, ci, timer) = r.timing.as_ref().map_or((String::new(), String::new(), String::new()), |t| {
            (
                fmt_ns(t.summary.median_ns),
                format!("{} – {}", fmt_ns(t.summary.median_ci_low_ns), fmt_ns(t.summary.median_ci_high_ns)),
                t.timer.kind.to_string(),
            )
        });
        let status = match r.status.reason() {
            Some(why) => format!("{}: {}", r.status.label(), md_escape(why)),
            None => r.status.label().to_owned(),
        };
        let (gf, gb) = r
            .throughput
            .map_or((String::new(), String::new()), |t| (format!("{:.2}", t.gflops), format!("{:.2}", t.gbps)));
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {median} | {ci} | {gf} | {gb} | {} | {timer} | {} | {} |\n",
            r.kernel,
            r.case,
            r.backend,
            md_escape(&adapter),
            status,
            fmt_peak(r),
            fmt_vs_f32(r),
            fmt_variant(r)
        ));
    }
    out.push_str(&scaling_markdown(records));
    out.push_str(&training_markdown(records));
    out.push_str(&precision_markdown(records));
    out
}

/// A reduced-precision kernel record (fp16, q8, q4) and its f32 twin on the same case and
/// backend, if one was measured.
#[derive(Debug, Clone, Copy)]
pub struct PrecisionPair<'a> {
    /// The kernel named without its precision suffix.
    pub base: &'a str,
    pub record: &'a Record,
    pub twin: Option<&'a Record>,
}

impl PrecisionPair<'_> {
    /// This record's median over its twin's (below 1: faster).
    pub fn time_ratio(&self) -> Option<f64> {
        let median = |r: &Record| r.timing.as_ref().map(|t| t.summary.median_ns);
        Some(median(self.record)? / median(self.twin?)?)
    }

    /// Relative RMS error against the f32 result.
    pub fn error(&self) -> Option<f64> {
        self.record.check.as_ref().and_then(|c| c.vs_f32.as_ref()).map(|e| e.rel_rms_err)
    }
}

/// Every measured reduced-precision kernel record with its f32 twin: the speed/accuracy
/// trade-off of choosing that precision. A variant pairs with the kernel named without its
/// `-f16`/`-q8`/`-q4` suffix (or that name with `-f32`); the quantised products run their own
/// shapes (and the GEMVs have no f32 kernel), so they have no twin and show their error alone.
pub fn precision_pairs(records: &[Record]) -> Vec<PrecisionPair<'_>> {
    use crate::schema::Status;
    let measured = |r: &&Record| r.status == Status::Measured && r.timing.is_some() && r.family != "model";
    records
        .iter()
        .filter(measured)
        .filter(|r| r.dtype != "f32")
        .map(|r| {
            let base = ["-f16", "-q8", "-q4"].iter().find_map(|s| r.kernel.strip_suffix(s)).unwrap_or(&r.kernel);
            let twin = records.iter().filter(measured).find(|f| {
                (f.kernel == base || f.kernel == format!("{base}-f32"))
                    && f.dtype == "f32"
                    && f.case == r.case
                    && f.backend == r.backend
            });
            PrecisionPair { base, record: r, twin }
        })
        .collect()
}

/// [`precision_pairs`] as a Markdown section; empty when nothing reduced was measured.
pub fn precision_markdown(records: &[Record]) -> String {
    let median = |r: &Record| r.timing.as_ref().map_or(f64::NAN, |t| t.summary.median_ns);
    let mut rows = String::new();
    for p in precision_pairs(records) {
        let r = p.record;
        rows.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            p.base,
            r.case,
            r.backend,
            r.dtype,
            fmt_ns(median(r)),
            p.time_ratio().map_or("-".to_owned(), fmt_ratio),
            fmt_vs_f32(r)
        ));
    }
    if rows.is_empty() {
        return rows;
    }
    format!(
        "\n## Precision\n\nEach reduced-precision kernel against its f32 twin, same case and backend (time ratio below \
         1: faster), and its error against the f32 result.\n\n\
         | kernel | case | backend | dtype | median | time vs f32 | error vs f32 (rel. RMS) |\n|---|---|---|---|---:|---:|---:|\n{rows}"
    )
}

/// Each backward kernel beside its forward on the same case and backend: the two medians and
/// backward / forward, what a training step pays per layer over inference. Empty when no pair
/// was measured. A backward pairs with the forward kernel of the same name without
/// `-backward` and the same case name (so the fp16, unfused and quantised forwards never pair).
pub fn training_markdown(records: &[Record]) -> String {
    let measured = |r: &&Record| r.status == crate::schema::Status::Measured && r.timing.is_some();
    let median = |r: &Record| r.timing.as_ref().map_or(f64::NAN, |t| t.summary.median_ns);
    let mut rows = String::new();
    for b in records.iter().filter(measured).filter(|r| r.mode == crate::schema::Mode::Training) {
        let Some(fwd) = b.kernel.strip_suffix("-backward") else { continue };
        let Some(f) = records.iter().filter(measured).find(|f| {
            f.kernel == fwd && f.case == b.case && f.backend == b.backend && f.mode == crate::schema::Mode::Inference
        }) else {
            continue;
        };
        rows.push_str(&format!(
            "| {fwd} | {} | {} | {} | {} | {} |\n",
            b.case,
            b.backend,
            fmt_ns(median(f)),
            fmt_ns(median(b)),
            fmt_ratio(median(b) / median(f))
        ));
    }
    if rows.is_empty() {
        return rows;
    }
    format!(
        "\n## Training vs inference\n\nEach backward kernel against its forward, same case and backend.\n\n\
         | kernel | case | backend | forward | backward | backward / forward |\n|---|---|---|---:|---:|---:|\n{rows}"
    )
}

/// The scaling series ([`crate::scaling::find`]) as one Markdown table each: the swept value down,
/// each backend's median and headline throughput across. Empty when there is none.
pub fn scaling_markdown(records: &[Record]) -> String {
    let mut out = String::new();
    for s in crate::scaling::find(records) {
        let unit = s.lines.first().and_then(|(_, p)| p.first()).map_or("", |p| p.unit);
        out.push_str(&format!("\n#### Scaling: {}\n\n| {} |", s.title(), s.param));
        for (b, _) in &s.lines {
            out.push_str(&format!(" {b} median | {b} {unit} |"));
        }
        out.push_str(&format!("\n|---:|{}\n", "---:|---:|".repeat(s.lines.len())));
        for x in s.xs() {
            out.push_str(&format!("| {x} |"));
            for (_, pts) in &s.lines {
                match pts.iter().find(|p| p.x == x) {
                    Some(p) => out.push_str(&format!(" {} | {:.2} |", fmt_ns(p.median_ns), p.throughput)),
                    None => out.push_str(" | |"),
                }
            }
            out.push('\n');
        }
    }
    out
}

/// Bencher Metric Format: `{ name: { latency: {value, lower_value, upper_value}, throughput } }`,
/// latency in ns with the median's 95% CI as bounds. Only measured records appear.
pub fn bmf(records: &[Record]) -> Value {
    let mut m = Map::new();
    for r in records {
        let (Some(t), Some(th)) = (&r.timing, &r.throughput) else { continue };
        m.insert(
            bench_name(r),
            json!({
                "latency": {
                    "value": t.summary.median_ns,
                    "lower_value": t.summary.median_ci_low_ns,
                    "upper_value": t.summary.median_ci_high_ns,
                },
                "throughput": { "value": th.gflops * 1e9 },
            }),
        );
    }
    Value::Object(m)
}

/// github-action-benchmark's `customSmallerIsBetter` input: one entry per measured record.
pub fn github_action_benchmark(records: &[Record]) -> Value {
    Value::Array(
        records
            .iter()
            .filter_map(|r| {
                let t = r.timing.as_ref()?;
                let half = (t.summary.median_ci_high_ns - t.summary.median_ci_low_ns) / 2.0;
                Some(json!({
                    "name": bench_name(r),
                    "unit": "ns",
                    "value": t.summary.median_ns,
                    "range": format!("± {half:.1}"),
                    "extra": format!(
                        "adapter: {}; timer: {}; n={}; commit {}",
                        r.adapter.as_ref().map_or("cpu", |a| a.name.as_str()),
                        t.timer.kind,
                        t.summary.n,
                        r.provenance.commit
                    ),
                }))
            })
            .collect(),
    )
}

/// A comparison as a Markdown table for a PR comment, regressions first.
pub fn comparison_markdown(cmp: &[Comparison], threshold: f64) -> String {
    let mut rows: Vec<&Comparison> = cmp.iter().collect();
    rows.sort_by_key(|c| !c.is_regression());
    let mut out = format!(
        "{}\n\n| kernel | case | backend | adapter | base | candidate | ratio (99% CI) | runs, spread | verdict |\n|---|---|---|---|---:|---:|---:|---|---|\n",
        verdict_rule(threshold)
    );
    for c in rows {
        let k = &c.key;
        let none = || (String::new(), String::new(), String::new(), String::new());
        let ((b, cand, ratio, spread), verdict) = match &c.outcome {
            Outcome::Compared { base_median_ns, cand_median_ns, ratio, verdict, spread } => (
                (
                    fmt_ns(*base_median_ns),
                    fmt_ns(*cand_median_ns),
                    format!("{:.3} ({:.3} – {:.3})", ratio.ratio, ratio.low, ratio.high),
                    spread.describe(),
                ),
                format!("**{}**", verdict.label()),
            ),
            Outcome::NotComparable(why) => (none(), format!("not comparable: {}", md_escape(why))),
            Outcome::OnlyInBase => (none(), "only in base".into()),
            Outcome::OnlyInCandidate => (none(), "only in candidate".into()),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {b} | {cand} | {ratio} | {spread} | {verdict} |\n",
            k.kernel,
            k.case,
            k.backend,
            md_escape(&k.adapter)
        ));
    }
    if cmp.iter().any(Comparison::needs_more_runs) {
        out.push_str(&format!("\nInconclusive: {}.\n", crate::compare::NEEDS_MORE_RUNS));
    }
    out
}

/// The rule every comparison states above its table.
pub fn verdict_rule(threshold: f64) -> String {
    format!(
        "Threshold {:.1}%: `slower`/`faster` only when the 99% interval of the ratio over the sides' runs excludes 1 and the ratio is beyond the threshold; `unchanged` when the whole interval is within it. One run a side is widened by the between-run floor of its backend class.",
        threshold * 100.0
    )
}

/// A ratio with two significant digits at least, so 0.0046x does not print as 0.00x.
pub fn fmt_ratio(x: f64) -> String {
    let decimals = if x > 0.0 && x.is_finite() { (1 - x.log10().floor() as i32).max(2) as usize } else { 2 };
    format!("{x:.decimals$}x")
}

/// `accelbench run`'s browser-versus-native comparison as a Markdown table.
pub fn cross_backend_markdown(records: &[Record]) -> String {
    let mut s = String::from(
        "| kernel | case | backend | median | throughput | of peak | vs native GPU | vs native CPU | status |\n|---|---|---|---:|---:|---:|---:|---:|---|\n",
    );
    // Models have their own table (models_markdown).
    for row in crate::compare::cross_backend(records).into_iter().filter(|row| row.record.family != "model") {
        let r = row.record;
        let median = r
            .timing
            .as_ref()
            .filter(|_| r.status == crate::schema::Status::Measured)
            .map(|t| fmt_ns(t.summary.median_ns));
        let th = r.throughput.map(|t| format!("{:.2} GFLOP/s, {:.2} GB/s", t.gflops, t.gbps));
        let status = match r.status.reason() {
            Some(reason) => format!("{}: {}", r.status.label(), reason.replace('|', "/")),
            None => r.status.label().to_owned(),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.kernel,
            r.case,
            r.backend,
            median.unwrap_or_default(),
            th.unwrap_or_default(),
            fmt_peak(r),
            row.vs_native_gpu.map_or(String::new(), fmt_ratio),
            row.speedup_vs_cpu.map_or(String::new(), fmt_ratio),
            status
        ));
    }
    s
}

/// The columns of [`model_rows`].
pub const MODEL_HEADER: [&str; 12] = [
    "model",
    "case",
    "backend",
    "TTFT / encode",
    "prefill tok/s",
    "decode tok/s",
    "token p50 / p99 (device)",
    "token p50 (host)",
    "device MiB",
    "time vs native GPU",
    "time vs native CPU",
    "status",
];

/// One row per model record (family `model`), in the records' order: the figures llama-bench
/// and ONNX Runtime users compare, and this backend's time per token and to the first token
/// over the native GPU's and native-cpu's on the same model and case (above 1: slower).
pub fn model_rows(records: &[Record]) -> Vec<[String; 12]> {
    use crate::schema::{ModelMetrics, Status};
    let ms = |ns: Option<f64>| ns.map_or(String::new(), |v| format!("{:.3} ms", v / 1e6));
    let rate = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.1}"));
    let measured = |r: &Record| r.model.clone().filter(|_| r.status == Status::Measured);
    // Time ratios of the figures both have: per decoded token, to the first token, per encode.
    let vs = |ours: &ModelMetrics, peer: Option<&Record>| -> String {
        let Some(theirs) = peer.and_then(measured) else { return String::new() };
        let mut parts = Vec::new();
        if let (Some(a), Some(b)) = (ours.decode_tokens_per_s, theirs.decode_tokens_per_s) {
            parts.push(format!("decode {}", fmt_ratio(b / a)));
        }
        if let (Some(a), Some(b)) = (ours.ttft_ns, theirs.ttft_ns) {
            parts.push(format!("TTFT {}", fmt_ratio(a / b)));
        }
        if let (Some(a), Some(b)) = (ours.encoder_latency_ns, theirs.encoder_latency_ns) {
            parts.push(format!("encode {}", fmt_ratio(a / b)));
        }
        parts.join(" · ")
    };
    crate::compare::cross_backend(records)
        .into_iter()
        .filter(|row| row.record.family == "model" && row.record.mode == crate::schema::Mode::Inference)
        .map(|row| {
            let r = row.record;
            let m = measured(r);
            let m = m.as_ref();
            let status = match r.status.reason() {
                Some(reason) => format!("{}: {reason}", r.status.label()),
                None => match (m, &r.check) {
                    (Some(m), Some(c)) => format!(
                        "measured (max rel err {:.1e} vs {}{}{})",
                        c.max_rel_err,
                        m.checked_against,
                        m.greedy_tokens_matched
                            .map_or(String::new(), |g| format!("; {g}/{} greedy tokens agree", m.generated_tokens)),
                        c.vs_f32.as_ref().map_or(String::new(), |e| format!(
                            "; {:.2}% rel. RMS from the f32 weights' output",
                            100.0 * e.rel_rms_err
                        ))
                    ),
                    _ => r.status.label().to_owned(),
                },
            };
            let peer = |p: Option<&Record>| match m {
                Some(m) if p.is_some_and(|p| p.backend != r.backend) => vs(m, p),
                _ => String::new(),
            };
            [
                r.kernel.clone(),
                r.case.clone(),
                r.backend.clone(),
                ms(m.and_then(|m| m.ttft_ns.or(m.encoder_latency_ns))),
                rate(m.and_then(|m| m.prefill_tokens_per_s)),
                rate(m.and_then(|m| m.decode_tokens_per_s)),
                m.and_then(|m| m.token_latency_ns)
                    .map_or(String::new(), |p| format!("{} / {}", ms(Some(p.p50_ns)), ms(Some(p.p99_ns)))),
                ms(m.and_then(|m| m.host_token_latency_ns).map(|p| p.p50_ns)),
                r.model
                    .as_ref()
                    .map_or(String::new(), |m| format!("{:.1}", m.device_bytes.total as f64 / (1u64 << 20) as f64)),
                peer(row.native_gpu),
                peer(row.native_cpu),
                status,
            ]
        })
        .collect()
}

/// The columns of [`training_rows`].
pub const TRAINING_HEADER: [&str; 10] = [
    "model",
    "case",
    "backend",
    "steps/s",
    "tokens/s",
    "first step / p50 / p99 (host)",
    "GFLOP/s",
    "loss first -> last",
    "inference vs training (tok/s)",
    "status",
];

/// One row per training record: steps and tokens per second, the step's latency as the host
/// waits for its loss, useful GFLOP/s, the loss curve's ends, and how many tokens per second
/// the same model's prompt pass (inference, f32) processes on the same backend over training's.
pub fn training_rows(records: &[Record]) -> Vec<[String; 10]> {
    use crate::schema::{Mode, Status};
    records
        .iter()
        .filter(|r| r.family == "model" && r.mode == Mode::Training)
        .map(|r| {
            let t = r.training.as_ref();
            let ms = |ns: f64| format!("{:.2} ms", ns / 1e6);
            let prefill = records
                .iter()
                .filter(|i| i.kernel == r.kernel && i.backend == r.backend && i.mode == Mode::Inference)
                .filter(|i| i.status == Status::Measured && i.dtype == "f32")
                .find_map(|i| i.model.as_ref().and_then(|m| m.prefill_tokens_per_s));
            let status = match r.status.reason() {
                Some(reason) => format!("{}: {reason}", r.status.label()),
                None => t.map_or(r.status.label().to_owned(), |t| {
                    format!("{} (loss within {:.1e} of the f64 reference)", r.status.label(), t.max_loss_rel_err)
                }),
            };
            match t {
                Some(t) => [
                    r.kernel.clone(),
                    r.case.clone(),
                    r.backend.clone(),
                    format!("{:.2}", t.steps_per_s),
                    format!("{:.0}", t.tokens_per_s),
                    format!(
                        "{} / {} / {}",
                        ms(t.first_step_ns),
                        ms(t.step_latency_ns.p50_ns),
                        ms(t.step_latency_ns.p99_ns)
                    ),
                    format!("{:.2}", t.gflops),
                    match (t.losses.first(), t.losses.last()) {
                        (Some(a), Some(b)) => format!("{a:.3} -> {b:.3}"),
                        _ => String::new(),
                    },
                    prefill.map_or(String::new(), |p| fmt_ratio(p / t.tokens_per_s)),
                    status,
                ],
                None => {
                    let mut row: [String; 10] = Default::default();
                    row[0] = r.kernel.clone();
                    row[1] = r.case.clone();
                    row[2] = r.backend.clone();
                    row[9] = status;
                    row
                }
            }
        })
        .collect()
}

/// [`training_rows`] as a Markdown section (empty without training records).
pub fn training_steps_markdown(records: &[Record]) -> String {
    let rows = training_rows(records);
    if rows.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "\n## Training steps\n\nEach decoder trained on one fixed batch (forward, cross-entropy, backward, AdamW), \
         every step's loss checked against the f64 reference's. *inference vs training*: the prompt pass's \
         tokens/s (f32) over training's on the same backend.\n\n| {} |\n|",
        TRAINING_HEADER.join(" | ")
    );
    for (i, _) in TRAINING_HEADER.iter().enumerate() {
        s.push_str(if (3..=8).contains(&i) { "---:|" } else { "---|" });
    }
    s.push('\n');
    for row in rows {
        s.push_str(&format!("| {} |\n", row.map(|c| md_escape(&c)).join(" | ")));
    }
    s
}

/// [`model_rows`] as a Markdown section (empty without model records).
pub fn models_markdown(records: &[Record]) -> String {
    let rows = model_rows(records);
    if rows.is_empty() {
        return String::new();
    }
    let mut s = format!("\n## Models\n\n| {} |\n|", MODEL_HEADER.join(" | "));
    for (i, _) in MODEL_HEADER.iter().enumerate() {
        s.push_str(if (3..=10).contains(&i) { "---:|" } else { "---|" });
    }
    s.push('\n');
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| c.replace('|', "/")).collect();
        s.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn ratios_keep_two_significant_digits() {
        assert_eq!(super::fmt_ratio(4.5612), "4.56x");
        assert_eq!(super::fmt_ratio(0.5), "0.50x");
        assert_eq!(super::fmt_ratio(0.0462), "0.046x");
        assert_eq!(super::fmt_ratio(0.00462), "0.0046x");
        assert_eq!(super::fmt_ratio(25.0), "25.00x");
    }
}
