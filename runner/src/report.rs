//! Human-readable output: the catalogue listing and the results table.

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use std::io::Write as _;

use harness::catalogue::{KERNELS, ParamSet, Params};
use harness::format::fmt_ns;
use harness::schema::{CaseInfo, KernelInfo, ParamInfo, Record, Status, VariantInfo};

pub fn print_catalogue(json: bool) -> anyhow::Result<()> {
    // Written with `writeln!`, not `println!`: a closed stdout (`| head`) must end us quietly,
    // which `main` does for a broken pipe, where `println!` would panic.
    let mut out = std::io::stdout().lock();
    if json {
        for k in KERNELS {
            let sets = |ps: &[ParamSet]| -> Vec<CaseInfo> {
                ps.iter().map(|p| CaseInfo { case: p.case.into(), params: Params::from(p).to_map() }).collect()
            };
            let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
            let info = KernelInfo {
                id: k.id.into(),
                family: k.family.name().into(),
                dtype: k.dtype.name().into(),
                mode: k.imp.mode(),
                shader: k.shader.into(),
                shader_hash: k.shader().hash.into(),
                entry_points: strings(k.entry_points),
                requires: strings(k.requires),
                tolerance: k.tolerance.name().into(),
                quick: sets(k.quick),
                full: sets(k.full),
                parameters: k
                    .imp
                    .spec()
                    .iter()
                    .map(|s| ParamInfo { name: s.name.into(), min: s.min, max: s.max, doc: s.doc.into() })
                    .collect(),
                summary: k.summary.into(),
                variants: k
                    .implementations()
                    .iter()
                    .map(|v| VariantInfo {
                        name: v.variant.into(),
                        shader: v.shader.file.into(),
                        shader_hash: v.shader.hash.into(),
                        requires: strings(v.requires),
                    })
                    .collect(),
            };
            let v = serde_json::to_string(&info)?;
            writeln!(out, "{v}")?;
        }
        return Ok(());
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "kernel",
        "family",
        "dtype",
        "mode",
        "requires",
        "parameters (--case KERNEL:key=value)",
        "quick",
        "full",
        "shaders (variants)",
        "what",
    ]);
    for k in KERNELS {
        let cases = |ps: &[ParamSet]| ps.iter().map(|p| p.case).collect::<Vec<_>>().join(" ");
        let keys = k.imp.spec().iter().map(|s| format!("{} {}..={}", s.name, s.min, s.max)).collect::<Vec<_>>();
        t.add_row([
            k.id.to_owned(),
            k.family.name().to_owned(),
            k.dtype.name().to_owned(),
            k.imp.mode().name().to_owned(),
            if k.requires.is_empty() { "-".to_owned() } else { k.requires.join(",") },
            keys.join("\n"),
            cases(k.quick),
            cases(k.full),
            std::iter::once(k.shader).chain(k.variants.iter().map(|v| v.shader)).collect::<Vec<_>>().join("\n"),
            k.summary.to_owned(),
        ]);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

pub fn status_brief(r: &Record) -> String {
    match (&r.status, &r.timing) {
        (Status::Measured, Some(t)) => format!("{} (n={}, k={})", fmt_ns(t.summary.median_ns), t.summary.n, t.batch),
        (s, _) => format!("{}: {}", s.label(), s.reason().unwrap_or("")),
    }
}

pub fn print_table(records: &[Record]) {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "kernel", "case", "backend", "adapter", "status", "median", "95% CI", "GFLOP/s", "GB/s", "of peak", "timer",
        "vs f32", "note",
    ]);
    for r in records {
        let adapter = r
            .adapter
            .as_ref()
            .map_or("-".to_owned(), |a| if a.fallback { format!("{} (software)", a.name) } else { a.name.clone() });
        let (median, ci, gf, gb, timer) = match (&r.timing, &r.throughput) {
            (Some(tm), Some(th)) => (
                fmt_ns(tm.summary.median_ns),
                format!(
                    "±{:.1}%",
                    50.0 * (tm.summary.median_ci_high_ns - tm.summary.median_ci_low_ns) / tm.summary.median_ns
                ),
                format!("{:.2}", th.gflops),
                format!("{:.2}", th.gbps),
                tm.timer.kind.to_string(),
            ),
            _ => Default::default(),
        };
        // A measured record's note is the variant that ran, where there was a choice.
        let variant = harness::format::fmt_variant(r);
        let note = match r.status.reason() {
            Some(why) => why.chars().take(80).collect::<String>(),
            None if variant.contains("(only one)") => String::new(),
            None => variant,
        };
        t.add_row(vec![
            Cell::new(&r.kernel),
            Cell::new(&r.case),
            Cell::new(&r.backend),
            Cell::new(adapter),
            Cell::new(r.status.label()),
            Cell::new(median).set_alignment(CellAlignment::Right),
            Cell::new(ci).set_alignment(CellAlignment::Right),
            Cell::new(gf).set_alignment(CellAlignment::Right),
            Cell::new(gb).set_alignment(CellAlignment::Right),
            Cell::new(harness::format::fmt_peak(r)).set_alignment(CellAlignment::Right),
            Cell::new(timer),
            Cell::new(harness::format::fmt_vs_f32(r)).set_alignment(CellAlignment::Right),
            Cell::new(note),
        ]);
    }
    println!("{t}");
    print_scaling(records);
}

/// `accelbench run`'s report: every record beside the same kernel and case on the native GPU
/// and CPU backends, with the ratios, and every skip, mismatch or failure with its reason.
pub fn run_comparison(records: &[Record]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "kernel",
        "case",
        "backend",
        "median",
        "throughput",
        "of peak",
        "vs native GPU",
        "vs native CPU",
        "status",
    ]);
    for row in harness::compare::cross_backend(records).into_iter().filter(|row| row.record.family != "model") {
        let r = row.record;
        let median = r
            .timing
            .as_ref()
            .filter(|_| r.status == Status::Measured)
            .map_or(String::new(), |t| fmt_ns(t.summary.median_ns));
        let th = r.throughput.map_or(String::new(), |t| {
            if r.work.flops >= 4.0 * r.work.bytes {
                format!("{:.2} GFLOP/s", t.gflops)
            } else {
                format!("{:.2} GB/s", t.gbps)
            }
        });
        let status = match r.status.reason() {
            Some(reason) => format!("{}: {}", r.status.label(), reason.chars().take(100).collect::<String>()),
            None => r.status.label().to_owned(),
        };
        let right = |s: String| Cell::new(s).set_alignment(CellAlignment::Right);
        t.add_row(vec![
            Cell::new(&r.kernel),
            Cell::new(&r.case),
            Cell::new(&r.backend),
            right(median),
            right(th),
            right(harness::format::fmt_peak(r)),
            right(row.vs_native_gpu.map_or(String::new(), harness::format::fmt_ratio)),
            right(row.speedup_vs_cpu.map_or(String::new(), harness::format::fmt_ratio)),
            Cell::new(status),
        ]);
    }
    t
}

pub fn run_comparison_markdown(records: &[Record]) -> String {
    harness::format::cross_backend_markdown(records)
        + &harness::format::models_markdown(records)
        + &harness::format::training_steps_markdown(records)
        + &harness::format::training_markdown(records)
        + &harness::format::precision_markdown(records)
        + &harness::format::scaling_markdown(records)
}

/// One row per model record: TTFT, prefill and decode rates, per-token latency on the device
/// and as the host waits for it, device memory, and time against the native backends.
pub fn model_table(records: &[Record]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(harness::format::MODEL_HEADER);
    for row in harness::format::model_rows(records) {
        t.add_row(row.into_iter().enumerate().map(|(i, c)| {
            let c = if i == 11 { c.chars().take(100).collect() } else { c };
            let cell = Cell::new(c);
            if (3..=10).contains(&i) { cell.set_alignment(CellAlignment::Right) } else { cell }
        }));
    }
    t
}

/// One row per training record (steps/s, tokens/s, the loss curve), as the Markdown report.
pub fn training_table(records: &[Record]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(harness::format::TRAINING_HEADER);
    for row in harness::format::training_rows(records) {
        t.add_row(row.into_iter().enumerate().map(|(i, c)| {
            let cell = Cell::new(if i == 9 { c.chars().take(100).collect() } else { c });
            if (3..=8).contains(&i) { cell.set_alignment(CellAlignment::Right) } else { cell }
        }));
    }
    t
}

/// One table per scaling series (a sweep, or catalogue cases differing in one parameter): the
/// swept value down, each backend's median and headline throughput across.
pub fn scaling_tables(records: &[Record]) -> Vec<(String, Table)> {
    harness::scaling::find(records)
        .into_iter()
        .map(|s| {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED);
            let unit = s.lines.first().and_then(|(_, p)| p.first()).map_or("", |p| p.unit);
            let mut header = vec![s.param.clone()];
            for (b, _) in &s.lines {
                header.push(format!("{b} median"));
                header.push(format!("{b} {unit}"));
            }
            t.set_header(header);
            for x in s.xs() {
                let mut row = vec![Cell::new(x).set_alignment(CellAlignment::Right)];
                for (_, pts) in &s.lines {
                    let p = pts.iter().find(|p| p.x == x);
                    row.push(
                        Cell::new(p.map_or(String::new(), |p| fmt_ns(p.median_ns))).set_alignment(CellAlignment::Right),
                    );
                    row.push(
                        Cell::new(p.map_or(String::new(), |p| format!("{:.2}", p.throughput)))
                            .set_alignment(CellAlignment::Right),
                    );
                }
                t.add_row(row);
            }
            (format!("Scaling: {}", s.title()), t)
        })
        .collect()
}

/// Prints [`scaling_tables`] under their titles (nothing when there are none).
pub fn print_scaling(records: &[Record]) {
    for (title, t) in scaling_tables(records) {
        println!("\n{title}\n{t}");
    }
}
