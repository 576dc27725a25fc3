//! The static HTML report: one self-contained file (inline CSS and SVG, no script, nothing
//! fetched) with the run's charts ([`crate::charts`]) and tables, each backend's environment
//! and every skip, mismatch and failure with its reason. `accelbench report --format html`,
//! `run --html` and `./x bench` write it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::charts::{self, ChartError, Figure, Palette};
use crate::format::{self, fmt_ns, fmt_peak, fmt_ratio, fmt_variant, fmt_vs_f32};
use crate::schema::{Record, Status};

/// `&`, `<`, `>`, `"` and `'` escaped, for text and attribute values alike.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A table with a header; `numeric` columns right-aligned. Cells are plain text.
pub fn table<R: AsRef<[String]>>(id: &str, header: &[&str], numeric: &[usize], rows: &[R]) -> String {
    let mut s = format!("<table id=\"{}\"><thead><tr>", escape(id));
    for h in header {
        let _ = write!(s, "<th>{}</th>", escape(h));
    }
    s.push_str("</tr></thead><tbody>\n");
    for row in rows {
        s.push_str("<tr>");
        for (i, c) in row.as_ref().iter().enumerate() {
            let class = if numeric.contains(&i) { " class=\"n\"" } else { "" };
            let _ = write!(s, "<td{class}>{}</td>", escape(c));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n");
    s
}

fn figure(f: &Figure) -> String {
    // The SVG is plotters' own output (its text escaped by plotters); embedded as is.
    format!("<figure id=\"{}\"><figcaption>{}</figcaption>{}</figure>\n", escape(&f.id), escape(&f.title), f.svg)
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:16px 24px;color:#222}\
h1{font-size:24px;margin:8px 0}h2{font-size:19px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}\
nav a{margin-right:14px}table{border-collapse:collapse;margin:8px 0;font-size:12.5px}\
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}th{background:#f4f4f4}\
td.n{text-align:right;font-variant-numeric:tabular-nums}figure{margin:12px 0}figcaption{font-weight:600;margin:4px 0}\
figure svg{max-width:100%;height:auto;border:1px solid #eee}.muted{color:#666}\
.status-mismatch,.status-failed{color:#b00020;font-weight:600}details summary{cursor:pointer;margin:8px 0}";

/// Measured, skipped, mismatched and failed records per backend.
fn status_rows(records: &[Record]) -> Vec<[String; 5]> {
    let mut by: Vec<(String, [u64; 4])> = Vec::new();
    for r in records {
        let i = match r.status {
            Status::Measured => 0,
            Status::Skipped { .. } => 1,
            Status::Mismatch { .. } => 2,
            Status::Failed { .. } => 3,
        };
        match by.iter_mut().find(|(b, _)| *b == r.backend) {
            Some((_, c)) => c[i] += 1,
            None => {
                let mut c = [0; 4];
                c[i] = 1;
                by.push((r.backend.clone(), c));
            }
        }
    }
    by.into_iter().map(|(b, c)| [b, c[0].to_string(), c[1].to_string(), c[2].to_string(), c[3].to_string()]).collect()
}

/// Per backend: where it ran (adapter, driver, browser and flags), how it was timed (timer and
/// its measured resolution) and its practical peaks.
fn environment_rows(records: &[Record]) -> Vec<[String; 7]> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rows: Vec<[String; 7]> = Vec::new();
    for r in records {
        let i = *seen.entry(&r.backend).or_insert_with(|| {
            rows.push(Default::default());
            rows.len() - 1
        });
        let row = &mut rows[i];
        row[0].clone_from(&r.backend);
        if row[1].is_empty()
            && let Some(a) = &r.adapter
        {
            row[1] = format!(
                "{} ({}, {}{}) driver {}",
                a.name,
                a.backend,
                a.device_type,
                if a.fallback { ", software" } else { "" },
                a.driver
            );
        }
        if row[2].is_empty()
            && let Some(t) = r.timing.as_ref().filter(|_| r.training.is_none())
        {
            row[2] = format!(
                "{}, resolution {}{}",
                t.timer.kind.as_str(),
                fmt_ns(t.timer.resolution_ns),
                if t.timer.quantized { " (quantised)" } else { "" }
            );
        }
        if row[3].is_empty()
            && let Some(b) = &r.provenance.browser
        {
            row[3] = format!("{} {} {}", b.name, b.version, b.flags.join(" "));
        }
        if row[4].is_empty()
            && let Some(p) = &r.peak
        {
            let gb = p.peak_gbps.map_or(String::new(), |v| format!("{v:.1} GB/s"));
            let gf = p.peak_gflops.map_or(String::new(), |v| format!("{v:.1} GFLOP/s"));
            row[4] = [gb, gf].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(", ");
        }
        row[5] = format!("{} {} ({}, {})", r.provenance.commit, r.provenance.date, r.provenance.os, r.provenance.cpu);
        row[6] = r.provenance.accelbench_version.clone();
    }
    rows
}

/// Every kernel record: the table a reader searches for one number.
fn record_rows(records: &[Record]) -> Vec<[String; 11]> {
    records
        .iter()
        .map(|r| {
            let (median, ci, thr) = match (&r.timing, &r.throughput) {
                (Some(t), Some(th)) if r.status == Status::Measured => (
                    fmt_ns(t.summary.median_ns),
                    format!("{} – {}", fmt_ns(t.summary.median_ci_low_ns), fmt_ns(t.summary.median_ci_high_ns)),
                    format!("{:.2} GFLOP/s, {:.2} GB/s", th.gflops, th.gbps),
                ),
                _ => Default::default(),
            };
            let status = match r.status.reason() {
                Some(why) => format!("{}: {why}", r.status.label()),
                None => r.status.label().to_owned(),
            };
            [
                r.kernel.clone(),
                r.case.clone(),
                r.dtype.clone(),
                r.backend.clone(),
                median,
                ci,
                thr,
                fmt_peak(r),
                fmt_vs_f32(r),
                fmt_variant(r),
                status,
            ]
        })
        .collect()
}

fn cross_rows(records: &[Record]) -> Vec<[String; 7]> {
    crate::compare::cross_backend(records)
        .into_iter()
        .filter(|c| c.record.family != "model" && !c.record.backend.starts_with("native-"))
        .map(|c| {
            let r = c.record;
            let median =
                r.timing.as_ref().filter(|_| r.status == Status::Measured).map(|t| fmt_ns(t.summary.median_ns));
            [
                r.kernel.clone(),
                r.case.clone(),
                r.backend.clone(),
                median.unwrap_or_else(|| r.status.label().to_owned()),
                fmt_peak(r),
                c.vs_native_gpu.map_or(String::new(), fmt_ratio),
                c.speedup_vs_cpu.map_or(String::new(), fmt_ratio),
            ]
        })
        .collect()
}

fn precision_rows(records: &[Record]) -> Vec<[String; 6]> {
    format::precision_pairs(records)
        .iter()
        .map(|p| {
            let r = p.record;
            [
                p.base.to_owned(),
                r.case.clone(),
                r.backend.clone(),
                r.dtype.clone(),
                p.time_ratio().map_or("-".to_owned(), fmt_ratio),
                fmt_vs_f32(r),
            ]
        })
        .collect()
}

/// The whole report for `records` (one run, or several files read together).
pub fn report(records: &[Record], title: &str) -> Result<String, ChartError> {
    let mut palette = Palette::backends(records);
    let mut body = String::new();
    let mut nav: Vec<(&str, &str)> = Vec::new();
    let mut section = |body: &mut String, id: &'static str, name: &'static str, content: String| {
        if content.is_empty() {
            return;
        }
        nav.push((id, name));
        let _ = write!(body, "<section id=\"{id}\"><h2>{name}</h2>\n{content}</section>\n");
    };

    let counts = status_rows(records);
    section(
        &mut body,
        "summary",
        "Summary",
        table("status", &["backend", "measured", "skipped", "mismatch", "failed"], &[1, 2, 3, 4], &counts),
    );
    section(
        &mut body,
        "environment",
        "Environment",
        table(
            "environment-table",
            &[
                "backend",
                "adapter",
                "timer",
                "browser and flags",
                "practical peaks",
                "commit, date, machine",
                "version",
            ],
            &[],
            &environment_rows(records),
        ),
    );

    let mut cross = String::new();
    if let Some(f) = charts::browser_vs_native(records, &mut palette)? {
        cross.push_str(&figure(&f));
    }
    let rows = cross_rows(records);
    if !rows.is_empty() {
        cross.push_str(&table(
            "cross-backend",
            &["kernel", "case", "backend", "median", "of peak", "vs native GPU", "vs native CPU"],
            &[3, 4, 5, 6],
            &rows,
        ));
    }
    section(&mut body, "browser-vs-native", "Browser vs native", cross);

    let throughput: String = charts::throughput(records, &mut palette)?.iter().map(figure).collect();
    section(&mut body, "throughput", "Throughput", throughput);

    let latency: String = charts::latency(records, &mut palette)?.iter().map(figure).collect();
    section(
        &mut body,
        "latency",
        "Latency distributions",
        if latency.is_empty() {
            latency
        } else {
            format!(
                "<p class=\"muted\">Each dot a sample (a calibrated batch's time per iteration) over its record's median; \
                 whiskers span p10 to p90.</p>{latency}"
            )
        },
    );

    let scaling = crate::scaling::find(records)
        .iter()
        .map(|s| charts::scaling(s, &mut palette).map(|f| figure(&f)))
        .collect::<Result<String, _>>()?;
    section(&mut body, "scaling", "Batch and sweep scaling", scaling);

    let mut models = String::new();
    for f in
        [charts::model_rates(records, &mut palette)?, charts::model_memory(records, &mut palette)?].iter().flatten()
    {
        models.push_str(&figure(f));
    }
    let rows = format::model_rows(records);
    if !rows.is_empty() {
        models.push_str(&table("models-table", &format::MODEL_HEADER, &[3, 4, 5, 6, 7, 8, 9, 10], &rows));
    }
    section(&mut body, "models", "Models and memory", models);

    let mut training = String::new();
    for f in [charts::training_vs_inference(records, &mut palette)?, charts::loss_curves(records, &mut palette)?]
        .iter()
        .flatten()
    {
        training.push_str(&figure(f));
    }
    let rows = format::training_rows(records);
    if !rows.is_empty() {
        training.push_str(&table("training-table", &format::TRAINING_HEADER, &[3, 4, 5, 6, 7, 8], &rows));
    }
    section(&mut body, "training", "Training vs inference", training);

    let mut precision = String::new();
    if let Some(f) = charts::precision(records, &mut palette)? {
        precision.push_str(&figure(&f));
    }
    let rows = precision_rows(records);
    if !rows.is_empty() {
        precision.push_str(&table(
            "precision-table",
            &["kernel", "case", "backend", "dtype", "time vs f32", "error vs f32 (rel. RMS)"],
            &[4, 5],
            &rows,
        ));
    }
    section(&mut body, "precision", "Precision trade-offs", precision);

    let all = record_rows(records);
    let problems: Vec<&[String; 11]> =
        all.iter().zip(records).filter(|(_, r)| r.status != Status::Measured).map(|(row, _)| row).collect();
    let header = [
        "kernel",
        "case",
        "dtype",
        "backend",
        "median",
        "95% CI",
        "throughput",
        "of peak",
        "vs f32",
        "variant",
        "status",
    ];
    if !problems.is_empty() {
        section(
            &mut body,
            "not-measured",
            "Skipped, mismatched and failed",
            table("not-measured-table", &header, &[], &problems),
        );
    }
    section(
        &mut body,
        "records",
        "Every record",
        format!(
            "<details><summary>{} records</summary>{}</details>",
            records.len(),
            table("records-table", &header, &[4, 5, 6, 7, 8], &all)
        ),
    );

    let mut out = String::from("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    let _ = writeln!(out, "<title>{}</title><style>{STYLE}</style></head><body>", escape(title));
    let _ = write!(out, "<h1>{}</h1>\n<nav>", escape(title));
    for (id, name) in &nav {
        let _ = write!(out, "<a href=\"#{id}\">{name}</a>");
    }
    out.push_str("</nav>\n");
    out.push_str(&body);
    out.push_str("</body></html>\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_escaped() {
        assert_eq!(super::escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
