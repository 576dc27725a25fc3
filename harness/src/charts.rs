//! SVG charts of records, drawn with plotters: throughput, latency distributions, browser vs
//! native ratios with their intervals, scaling series, models' rates and memory, training vs
//! inference, precision trade-offs and stored series over runs. Pure functions of records, one
//! code path for the HTML report, the dashboard and the page (plotters' SVG backend writes
//! text natively and measures labels through the DOM on wasm32).

use std::collections::BTreeMap;
use std::fmt::Display;

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::{RangedCoordf64, RangedCoordusize};
use plotters::prelude::*;

use crate::format::fmt_ns;
use crate::scaling::{Scaling, headline};
use crate::schema::{Mode, Record, Status};

/// A drawn chart: a stable id (anchors, tests), its caption and the SVG document.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub id: String,
    pub title: String,
    pub svg: String,
}

#[derive(Debug, thiserror::Error)]
#[error("drawing the chart `{chart}`: {message}")]
pub struct ChartError {
    pub chart: String,
    pub message: String,
}

type Drawn = Result<(), String>;

fn err(e: impl Display) -> String {
    e.to_string()
}

/// Okabe-Ito: distinguishable with the common colour-vision deficiencies.
const COLOURS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(120, 120, 120),
    RGBColor(0, 0, 0),
];

/// One colour per series name (backends, dtypes), in order of first appearance, so a backend
/// keeps its colour across every chart of a report.
#[derive(Debug, Clone, Default)]
pub struct Palette(Vec<String>);

impl Palette {
    pub fn of<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut p = Palette::default();
        for n in names {
            p.colour(n);
        }
        p
    }

    pub fn backends(records: &[Record]) -> Self {
        Self::of(records.iter().map(|r| r.backend.as_str()))
    }

    fn colour(&mut self, name: &str) -> RGBColor {
        let i = self.0.iter().position(|n| n == name).unwrap_or_else(|| {
            self.0.push(name.to_owned());
            self.0.len() - 1
        });
        COLOURS[i % COLOURS.len()]
    }

    /// CSS hex of a name's colour (for legends written in HTML).
    pub fn css(&mut self, name: &str) -> String {
        let RGBColor(r, g, b) = self.colour(name);
        format!("#{r:02x}{g:02x}{b:02x}")
    }
}

const WIDTH: u32 = 960;
const ROW: u32 = 16;
const FONT: (&str, u32) = ("sans-serif", 12);

/// Room for row labels: about 6.5 px per character at 12 px, bounded so the plot keeps space.
fn label_area(labels: impl Iterator<Item = usize>) -> u32 {
    (labels.max().unwrap_or(8) as f64 * 6.5 + 12.0).clamp(80.0, 420.0) as u32
}

fn draw(
    id: &str,
    title: &str,
    size: (u32, u32),
    f: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Drawn,
) -> Result<Figure, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let drawn = root.fill(&WHITE).map_err(err).and_then(|()| f(&root)).and_then(|()| root.present().map_err(err));
        drawn.map_err(|message| ChartError { chart: id.to_owned(), message })?;
    }
    Ok(Figure { id: id.to_owned(), title: title.to_owned(), svg })
}

/// A log axis spanning `values` with some room either side (a single value gets a decade), in
/// log10 space: every log axis here is a linear axis over log10(v), so plotters places evenly
/// spaced ticks and each label shows 10^x (its own log ticks crowd or vanish on short spans).
fn log_span(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    (hi > 0.0).then(|| {
        let (lo, hi) = if hi / lo < 1.5 { (lo / 2.0, hi * 2.0) } else { (lo / 1.3, hi * 1.3) };
        (lo.log10(), hi.log10())
    })
}

fn lg(v: f64) -> f64 {
    v.max(1e-300).log10()
}

/// 10^x to two significant digits: ticks sit at even steps of log10, so their exact values
/// (630.96 µs) are noise.
fn ex(x: f64) -> f64 {
    let v = 10f64.powf(x);
    let scale = 10f64.powf(v.abs().log10().floor() - 1.0);
    (v / scale).round() * scale
}

/// One horizontal bar (or a point with an interval) of a row chart.
#[derive(Debug, Clone)]
pub struct Row {
    pub label: String,
    pub series: String,
    pub value: f64,
    /// An interval around `value` (drawn as whiskers).
    pub interval: Option<(f64, f64)>,
}

/// Rows top to bottom on a log value axis: bars from the axis (or points with whiskers when
/// `points`), coloured by series, with a legend; `mark` draws a vertical reference line (1x).
fn row_chart(
    id: &str,
    title: &str,
    axis: &str,
    rows: &[Row],
    palette: &mut Palette,
    points: bool,
    mark: Option<f64>,
) -> Result<Figure, ChartError> {
    let n = rows.len();
    let values = rows.iter().flat_map(|r| [Some(r.value), r.interval.map(|i| i.0), r.interval.map(|i| i.1)]).flatten();
    let (lo, hi) = log_span(values.chain(mark)).unwrap_or((-1.0, 1.0));
    // Bars start a whole decade below the smallest value, so two bars' lengths are not read as
    // a far larger ratio than they are.
    let lo = if points { lo } else { lo.floor().min(hi - 1.0) };
    // A label where it changes: rows of one case on several backends share theirs.
    let labels: Vec<&str> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| if i > 0 && rows[i - 1].label == r.label { "" } else { r.label.as_str() })
        .collect();
    let series: Vec<String> = first_seen(rows.iter().map(|r| r.series.clone()));
    let colours: Vec<RGBColor> = series.iter().map(|s| palette.colour(s)).collect();
    let legend_h = legend_height(&series);
    let h = ROW * n as u32 + 70 + legend_h;
    draw(id, title, (WIDTH, h), |root| {
        let (plot, legend) = root.split_vertically(h - legend_h);
        let mut chart = row_axes(&plot, lo..hi, &labels, axis, &|v| short(ex(*v)))?;
        let row_of = |i: usize| n - 1 - i;
        if let Some(m) = mark {
            chart
                .draw_series(LineSeries::new(
                    [(lg(m), SegmentValue::Exact(0)), (lg(m), SegmentValue::Last)],
                    BLACK.stroke_width(1),
                ))
                .map_err(err)?;
        }
        for (i, r) in rows.iter().enumerate() {
            let y = row_of(i);
            let c = colours[series.iter().position(|s| *s == r.series).unwrap_or(0)];
            let whiskers = r.interval.map(|(a, b)| (lg(a), lg(b)));
            if !points {
                let mut bar = Rectangle::new(
                    [(lo, SegmentValue::Exact(y)), (lg(r.value), SegmentValue::Exact(y + 1))],
                    c.filled(),
                );
                bar.set_margin(2, 2, 0, 0);
                chart.draw_series([bar]).map_err(err)?;
            }
            if let Some((a, b)) = whiskers {
                // Points carry their interval in their colour; bars in black over the colour.
                let (style, width) = if points { (c.stroke_width(2), 6) } else { (BLACK.stroke_width(1), 4) };
                chart
                    .draw_series([ErrorBar::new_horizontal(SegmentValue::CenterOf(y), a, lg(r.value), b, style, width)])
                    .map_err(err)?;
            }
            if points {
                chart
                    .draw_series([Circle::new((lg(r.value), SegmentValue::CenterOf(y)), 4, c.filled())])
                    .map_err(err)?;
            }
        }
        legend_boxes(&legend, &series, &colours)
    })
}

/// Where each legend entry goes (left to right, wrapping at the chart's width) and the height
/// the legend needs.
fn legend_layout(series: &[String]) -> (Vec<(i32, i32)>, u32) {
    let (mut x, mut y) = (20i32, 4i32);
    let mut at = Vec::with_capacity(series.len());
    for s in series {
        let w = 40 + (s.chars().count() as f64 * 6.5) as i32;
        if x > 20 && x + w > WIDTH as i32 - 10 {
            (x, y) = (20, y + 22);
        }
        at.push((x, y));
        x += w;
    }
    (at, if series.is_empty() { 0 } else { y as u32 + 22 })
}

fn legend_height(series: &[String]) -> u32 {
    legend_layout(series).1
}

/// The series' names beside their colours, under the plot.
fn legend_boxes(area: &DrawingArea<SVGBackend<'_>, Shift>, series: &[String], colours: &[RGBColor]) -> Drawn {
    for ((s, c), (x, y)) in series.iter().zip(colours).zip(legend_layout(series).0) {
        area.draw(&Rectangle::new([(x, y + 2), (x + 14, y + 14)], c.filled())).map_err(err)?;
        area.draw(&Text::new(s.clone(), (x + 20, y + 3), FONT)).map_err(err)?;
    }
    Ok(())
}

/// The label of a row chart's row at the centre of its band (rows are drawn top down, so
/// segment 0 is the last row); nothing between rows.
fn row_label<S: AsRef<str>>(v: &SegmentValue<usize>, labels: &[S]) -> String {
    match v {
        SegmentValue::CenterOf(i) if *i < labels.len() => labels[labels.len() - 1 - *i].as_ref().to_owned(),
        _ => String::new(),
    }
}

/// A row chart's drawing context: values along x, rows top to bottom along a segmented y.
type RowChart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, SegmentedCoord<RangedCoordusize>>>;

/// The axes every row chart shares: a row per label (top down, room for the longest), the value
/// axis over `x` with its description and tick labels, no light grid.
fn row_axes<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    x: std::ops::Range<f64>,
    labels: &[&str],
    x_desc: &str,
    x_label: &dyn Fn(&f64) -> String,
) -> Result<RowChart<'a, 'b>, String> {
    let n = labels.len();
    let mut chart = ChartBuilder::on(area)
        .margin(6)
        .margin_right(24)
        .x_label_area_size(34)
        .y_label_area_size(label_area(labels.iter().map(|l| l.chars().count())))
        .build_cartesian_2d(x, (0..n).into_segmented())
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .y_labels(n.max(1))
        .y_label_formatter(&|v| row_label(v, labels))
        .x_desc(x_desc)
        .x_label_formatter(x_label)
        .label_style(FONT)
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// Each distinct item once, in the order first seen.
fn first_seen<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// Tick labels in engineering notation: 0.5, 20, 1.5k, 3M.
fn short(v: f64) -> String {
    let a = v.abs();
    let (x, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let digits = if x.abs() >= 10.0 || x == x.round() {
        0
    } else if x.abs() >= 1.0 {
        1
    } else {
        2
    };
    format!("{x:.digits$}{suffix}")
}

fn measured(records: &[Record]) -> impl Iterator<Item = &Record> {
    records.iter().filter(|r| r.status == Status::Measured && r.timing.is_some())
}

fn case_label(r: &Record) -> String {
    if r.dtype == "f32" || r.kernel.ends_with(&r.dtype) {
        format!("{} {}", r.kernel, r.case)
    } else {
        format!("{} {} {}", r.kernel, r.case, r.dtype)
    }
}

/// Headline throughput (GFLOP/s for compute-bound kernels, GB/s for memory-bound ones) of every
/// measured kernel record, one chart per family and unit, a bar per case and backend.
pub fn throughput(records: &[Record], palette: &mut Palette) -> Result<Vec<Figure>, ChartError> {
    let mut groups: BTreeMap<(usize, String, &str), Vec<Row>> = BTreeMap::new();
    let order: Vec<&str> = first_seen(records.iter().map(|r| r.family.as_str()));
    for r in measured(records).filter(|r| r.family != "model") {
        let Some((v, unit)) = headline(r) else { continue };
        let rank = order.iter().position(|f| *f == r.family).unwrap_or(0);
        groups.entry((rank, r.family.clone(), unit)).or_default().push(Row {
            label: case_label(r),
            series: r.backend.clone(),
            value: v,
            interval: None,
        });
    }
    groups
        .into_iter()
        .map(|((_, family, unit), mut rows)| {
            rows.sort_by(|a, b| a.label.cmp(&b.label));
            let id = format!("throughput-{family}-{}", if unit == "GB/s" { "gbps" } else { "gflops" });
            row_chart(&id, &format!("{family}: {unit} (log scale)"), unit, &rows, palette, false, None)
        })
        .collect()
}

/// Every sample of every measured kernel record relative to its median (log axis, clamped to
/// 0.5x-2x), per family: a dot per sample, the p10-p90 span as whiskers, so spread, outliers and
/// bimodal timers show at once.
pub fn latency(records: &[Record], palette: &mut Palette) -> Result<Vec<Figure>, ChartError> {
    let mut groups: Vec<(String, Vec<&Record>)> = Vec::new();
    for r in measured(records).filter(|r| r.family != "model" && r.training.is_none()) {
        match groups.iter_mut().find(|(f, _)| *f == r.family) {
            Some((_, v)) => v.push(r),
            None => groups.push((r.family.clone(), vec![r])),
        }
    }
    groups
        .into_iter()
        .map(|(family, rs)| {
            let n = rs.len();
            let labels: Vec<String> = rs.iter().map(|r| format!("{} · {}", case_label(r), r.backend)).collect();
            let id = format!("latency-{family}");
            let title = format!("{family}: every sample over its median");
            let h = ROW * n as u32 + 70;
            let colours: Vec<RGBColor> = rs.iter().map(|r| palette.colour(&r.backend)).collect();
            draw(&id, &title, (WIDTH, h), |root| {
                let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
                let mut chart =
                    row_axes(root, lg(0.5)..lg(2.0), &labels, "sample / median", &|v| format!("{:.2}x", ex(*v)))?;
                for (i, r) in rs.iter().enumerate() {
                    let t = r.timing.as_ref().expect("measured records have timing");
                    let m = t.summary.median_ns;
                    let row = n - 1 - i;
                    let y = SegmentValue::CenterOf(row);
                    let c = colours[i];
                    let clamp = |x: f64| lg((x / m).clamp(0.5, 2.0));
                    chart
                        .draw_series([ErrorBar::new_horizontal(
                            y,
                            clamp(t.summary.p10_ns),
                            0.0,
                            clamp(t.summary.p90_ns),
                            c.stroke_width(1),
                            6,
                        )])
                        .map_err(err)?;
                    chart
                        .draw_series(
                            t.samples_ns
                                .iter()
                                .map(|s| Circle::new((clamp(*s), SegmentValue::CenterOf(row)), 2, c.mix(0.6).filled())),
                        )
                        .map_err(err)?;
                }
                Ok(())
            })
        })
        .collect()
}

/// A record's median over its native peer's, with a bootstrap interval from both sample sets.
fn ratio_row(r: &Record, peer: &Record, label: String, series: String) -> Option<Row> {
    let (a, b) = (r.timing.as_ref()?, peer.timing.as_ref()?);
    let (sa, sb) = (crate::stats::Sample::new(&a.samples_ns).ok()?, crate::stats::Sample::new(&b.samples_ns).ok()?);
    let est = crate::stats::median_ratio(&sb, &sa, 0.95, 1000);
    Some(Row { label, series, value: est.ratio, interval: Some((est.low, est.high)) })
}

/// Browser vs native: every browser record's median over the same case on the native GPU
/// backend, with a 95% bootstrap interval (above 1: the browser is slower), one row per case.
pub fn browser_vs_native(records: &[Record], palette: &mut Palette) -> Result<Option<Figure>, ChartError> {
    let mut rows = Vec::new();
    for c in crate::compare::cross_backend(records) {
        let r = c.record;
        if r.backend.starts_with("native-") || r.family == "model" || r.status != Status::Measured {
            continue;
        }
        let Some(peer) = c.native_gpu.filter(|p| p.status == Status::Measured) else { continue };
        rows.extend(ratio_row(r, peer, case_label(r), format!("{} / {}", r.backend, peer.backend)));
    }
    if rows.is_empty() {
        return Ok(None);
    }
    // Each case's browsers together, cases in the order they ran.
    let first: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
    rows.sort_by_key(|r| first.iter().position(|l| *l == r.label));
    row_chart(
        "browser-vs-native",
        "Browser time over native GPU time, same case (95% bootstrap interval; log scale)",
        "browser median / native median",
        &rows,
        palette,
        true,
        Some(1.0),
    )
    .map(Some)
}

/// A scaling series: median time and headline throughput (both log) against the swept
/// parameter (log when the sweep is geometric), a line per backend, side by side.
pub fn scaling(s: &Scaling, palette: &mut Palette) -> Result<Figure, ChartError> {
    let log_x = s.log_x();
    let fx = |x: u64| if log_x { lg(x as f64) } else { x as f64 };
    let xs = s.xs();
    let (x0, x1) = (xs.first().map_or(0.0, |x| fx(*x)), xs.last().map_or(1.0, |x| fx(*x)));
    let pad = ((x1 - x0) * 0.04).max(0.05);
    let points: Vec<_> = s.lines.iter().flat_map(|(_, p)| p.iter()).collect();
    let (t0, t1) = log_span(points.iter().map(|p| p.median_ns)).unwrap_or((0.0, 1.0));
    let (v0, v1) = log_span(points.iter().map(|p| p.throughput)).unwrap_or((-1.0, 1.0));
    let unit = points.first().map_or("", |p| p.unit);
    let colours: Vec<RGBColor> = s.lines.iter().map(|(b, _)| palette.colour(b)).collect();
    let names: Vec<String> = s.lines.iter().map(|(b, _)| b.clone()).collect();
    let id = format!("scaling-{}-{}", s.kernel, s.param);
    let title = s.title();
    let legend_h = legend_height(&names);
    let h = 280 + legend_h;
    draw(&id, &title, (WIDTH, h), |root| {
        let (plots, legend) = root.split_vertically(280);
        for (k, half) in plots.split_evenly((1, 2)).iter().enumerate() {
            let (y0, y1, desc) = if k == 0 { (t0, t1, "median time") } else { (v0, v1, unit) };
            let mut chart = ChartBuilder::on(half)
                .margin(8)
                .x_label_area_size(34)
                .y_label_area_size(70)
                .build_cartesian_2d((x0 - pad)..(x1 + pad), y0..y1)
                .map_err(err)?;
            chart
                .configure_mesh()
                .light_line_style(TRANSPARENT)
                .x_desc(format!("{}{}", s.param, if log_x { " (log)" } else { "" }))
                .y_desc(desc)
                .x_label_formatter(&|v| short(if log_x { ex(*v) } else { *v }))
                .y_label_formatter(&|v| if k == 0 { fmt_ns(ex(*v)) } else { short(ex(*v)) })
                .label_style(FONT)
                .draw()
                .map_err(err)?;
            for ((_, pts), c) in s.lines.iter().zip(&colours) {
                let xy: Vec<(f64, f64)> =
                    pts.iter().map(|p| (fx(p.x), lg(if k == 0 { p.median_ns } else { p.throughput }))).collect();
                chart.draw_series(LineSeries::new(xy.clone(), c.stroke_width(2))).map_err(err)?;
                chart.draw_series(xy.into_iter().map(|p| Circle::new(p, 3, c.filled()))).map_err(err)?;
            }
        }
        legend_boxes(&legend, &names, &colours)
    })
}

/// Models' prefill (or encode) and decode tokens/s, a bar per model, case and backend.
pub fn model_rates(records: &[Record], palette: &mut Palette) -> Result<Option<Figure>, ChartError> {
    let mut rows = Vec::new();
    for r in measured(records) {
        let Some(m) = r.model.as_ref() else { continue };
        let first = if m.generated_tokens == 0 { "encode" } else { "prefill" };
        for (kind, v) in [(first, m.prefill_tokens_per_s), ("decode", m.decode_tokens_per_s)] {
            if let Some(v) = v {
                rows.push(Row {
                    label: format!("{} {} {} {kind}", r.kernel, r.case, r.dtype),
                    series: r.backend.clone(),
                    value: v,
                    interval: None,
                });
            }
        }
    }
    if rows.is_empty() {
        return Ok(None);
    }
    rows.sort_by(|a, b| a.label.cmp(&b.label));
    row_chart("model-rates", "Models: tokens per second (log scale)", "tokens/s", &rows, palette, false, None).map(Some)
}

/// Device memory of each model record: weights, KV cache and activations, stacked.
pub fn model_memory(records: &[Record], palette: &mut Palette) -> Result<Option<Figure>, ChartError> {
    let rows: Vec<(String, [f64; 3])> = records
        .iter()
        .filter_map(|r| r.model.as_ref().map(|m| (r, m.device_bytes)))
        .filter(|(_, d)| d.total > 0)
        .map(|(r, d)| {
            let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
            (
                format!("{} {} {} · {}", r.kernel, r.case, r.dtype, r.backend),
                [mib(d.weights), mib(d.kv_cache), mib(d.activations)],
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let labels: Vec<&str> = rows.iter().map(|(l, _)| l.as_str()).collect();
    let kinds = ["weights".to_owned(), "kv-cache".to_owned(), "activations".to_owned()];
    let colours: Vec<RGBColor> = kinds.iter().map(|k| palette.colour(k)).collect();
    let n = rows.len();
    let max = rows.iter().map(|(_, p)| p.iter().sum::<f64>()).fold(0.0, f64::max) * 1.05;
    let h = ROW * n as u32 + 92;
    let title = "Models: device memory by kind (MiB)";
    draw("model-memory", title, (WIDTH, h), |root| {
        let (plot, legend) = root.split_vertically(h - 22);
        let mut chart = row_axes(&plot, 0.0..max.max(1e-3), &labels, "MiB", &|v| format!("{v:.1}"))?;
        for (i, (_, parts)) in rows.iter().enumerate() {
            let y = n - 1 - i;
            let mut x = 0.0;
            for (p, c) in parts.iter().zip(&colours) {
                let mut bar =
                    Rectangle::new([(x, SegmentValue::Exact(y)), (x + p, SegmentValue::Exact(y + 1))], c.filled());
                bar.set_margin(2, 2, 0, 0);
                chart.draw_series([bar]).map_err(err)?;
                x += p;
            }
        }
        legend_boxes(&legend, &kinds, &colours)
    })
    .map(Some)
}

/// Per model and backend with a training record: tokens/s of training steps beside the same
/// model's prompt pass (inference, f32).
pub fn training_vs_inference(records: &[Record], palette: &mut Palette) -> Result<Option<Figure>, ChartError> {
    let mut rows = Vec::new();
    for r in measured(records).filter(|r| r.mode == Mode::Training) {
        let Some(t) = r.training.as_ref() else { continue };
        let inference = measured(records)
            .filter(|i| i.kernel == r.kernel && i.backend == r.backend && i.mode == Mode::Inference && i.dtype == "f32")
            .find_map(|i| i.model.as_ref().and_then(|m| m.prefill_tokens_per_s));
        let label = |kind: &str| format!("{} · {} {kind}", r.kernel, r.backend);
        if let Some(p) = inference {
            rows.push(Row {
                label: label("inference"),
                series: "inference (prompt pass)".into(),
                value: p,
                interval: None,
            });
        }
        rows.push(Row {
            label: label("training"),
            series: "training step".into(),
            value: t.tokens_per_s,
            interval: None,
        });
    }
    if rows.is_empty() {
        return Ok(None);
    }
    row_chart(
        "training-vs-inference",
        "Training vs inference: tokens per second (log scale)",
        "tokens/s",
        &rows,
        palette,
        false,
        None,
    )
    .map(Some)
}

/// Each training record's loss per step beside the f64 reference's (dashed): falling is the
/// training working, the two together the backend computing it right.
pub fn loss_curves(records: &[Record], palette: &mut Palette) -> Result<Option<Figure>, ChartError> {
    let runs: Vec<(&Record, &crate::schema::TrainingMetrics)> = measured(records)
        .filter_map(|r| r.training.as_ref().map(|t| (r, t)))
        .filter(|(_, t)| !t.losses.is_empty())
        .collect();
    if runs.is_empty() {
        return Ok(None);
    }
    let steps = runs.iter().map(|(_, t)| t.losses.len()).max().unwrap_or(1);
    let all = runs.iter().flat_map(|(_, t)| t.losses.iter().chain(&t.reference_losses).copied());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let pad = ((hi - lo) * 0.08).max(1e-3);
    let names: Vec<String> = runs.iter().map(|(r, _)| format!("{} · {}", r.kernel, r.backend)).collect();
    let colours: Vec<RGBColor> = names.iter().map(|n| palette.colour(n)).collect();
    let legend_h = legend_height(&names);
    let h = 320 + legend_h;
    let title = "Training loss per step (dashed: f64 reference)";
    draw("loss-curves", title, (WIDTH, h), |root| {
        let (plot, legend) = root.split_vertically(320);
        let mut chart = ChartBuilder::on(&plot)
            .margin(8)
            .margin_right(24)
            .x_label_area_size(34)
            .y_label_area_size(56)
            .build_cartesian_2d(1.0..(steps as f64).max(2.0), (lo - pad)..(hi + pad))
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc("step")
            .y_desc("cross-entropy")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .label_style(FONT)
            .draw()
            .map_err(err)?;
        for ((_, t), c) in runs.iter().zip(&colours) {
            let line = |v: &[f64]| v.iter().enumerate().map(|(i, l)| (i as f64 + 1.0, *l)).collect::<Vec<_>>();
            chart.draw_series(LineSeries::new(line(&t.losses), c.stroke_width(2))).map_err(err)?;
            chart
                .draw_series(DashedLineSeries::new(line(&t.reference_losses), 4, 4, c.stroke_width(1)))
                .map_err(err)?;
        }
        legend_boxes(&legend, &names, &colours)
    })
    .map(Some)
}

/// The precision trade-off: each reduced-precision record with an f32 twin, its error against
/// the f32 result (x, log) and its time over the twin's (y, log; below 1: faster), by dtype.
pub fn precision(records: &[Record], palette: &mut Palette) -> Result<Option<Figure>, ChartError> {
    let pts: Vec<(String, f64, f64)> = crate::format::precision_pairs(records)
        .iter()
        .filter_map(|p| Some((p.record.dtype.clone(), p.error()?.max(1e-9), p.time_ratio()?)))
        .collect();
    if pts.is_empty() {
        return Ok(None);
    }
    let (e0, e1) = log_span(pts.iter().map(|p| p.1)).unwrap_or((-6.0, -1.0));
    let (r0, r1) = log_span(pts.iter().map(|p| p.2).chain([1.0])).unwrap_or((-1.0, 1.0));
    let dtypes: Vec<String> = first_seen(pts.iter().map(|p| p.0.clone()));
    let colours: Vec<RGBColor> = dtypes.iter().map(|d| palette.colour(d)).collect();
    let title = "Precision: error vs f32 against time vs f32 (each point a kernel, case and backend)";
    draw("precision", title, (WIDTH, 382), |root| {
        let (plot, legend) = root.split_vertically(360);
        let mut chart = ChartBuilder::on(&plot)
            .margin(8)
            .margin_right(24)
            .x_label_area_size(34)
            .y_label_area_size(56)
            .build_cartesian_2d(e0..e1, r0..r1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc("relative RMS error against the f32 result (log)")
            .y_desc("time / f32 time (log)")
            .x_label_formatter(&|v| format!("{:.1e}", ex(*v)))
            .y_label_formatter(&|v| format!("{:.2}x", ex(*v)))
            .label_style(FONT)
            .draw()
            .map_err(err)?;
        chart.draw_series(LineSeries::new([(e0, 0.0), (e1, 0.0)], BLACK.stroke_width(1))).map_err(err)?;
        for (d, e, r) in &pts {
            let c = colours[dtypes.iter().position(|x| x == d).unwrap_or(0)];
            chart.draw_series([Circle::new((lg(*e), lg(*r)), 4, c.filled())]).map_err(err)?;
        }
        legend_boxes(&legend, &dtypes, &colours)
    })
    .map(Some)
}

/// Stored series ([`crate::schema::Series`], as `GET /api/v1/series` serves them) as charts: one
/// per kernel, case, dtype and metric, a line per backend, adapter and machine over the runs in
/// time order (browser and native side by side over time), each run's interval as a band and
/// every change point as a dashed red line labelled with its step.
pub fn series(all: &[crate::schema::Series], palette: &mut Palette) -> Result<Vec<Figure>, ChartError> {
    /// (kernel, case, dtype, metric): what one chart shows.
    type Key<'a> = (&'a str, &'a str, &'a str, &'a str);
    let mut groups: Vec<(Key<'_>, Vec<&crate::schema::Series>)> = Vec::new();
    for s in all {
        let key = (s.kernel.as_str(), s.case.as_str(), s.dtype.as_str(), s.metric.as_str());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(s),
            None => groups.push((key, vec![s])),
        }
    }
    groups
        .into_iter()
        .map(|((kernel, case, dtype, metric), lines)| series_chart(kernel, case, dtype, metric, &lines, palette))
        .collect()
}

fn series_chart(
    kernel: &str,
    case: &str,
    dtype: &str,
    metric: &str,
    lines: &[&crate::schema::Series],
    palette: &mut Palette,
) -> Result<Figure, ChartError> {
    // The runs of every line, oldest first (RFC 3339 times sort as text).
    // Runs in the order the series give them (time, then storage order), merged across lines
    // by a stable sort on the time, so runs stored within one second keep their order.
    // (A run has one time and commit, so distinct triples are distinct runs.)
    let mut runs: Vec<(&str, &str, &str)> = first_seen(
        lines.iter().flat_map(|s| &s.points).map(|p| (p.created_at.as_str(), p.run_id.as_str(), p.commit.as_str())),
    );
    runs.sort_by_key(|r| r.0);
    let x_of = |run: &str| runs.iter().position(|r| r.1 == run).unwrap_or(0) as f64;
    let labels: Vec<String> = runs
        .iter()
        .map(
            |(_, id, commit)| {
                if commit.is_empty() { id.chars().take(8).collect() } else { commit.chars().take(8).collect() }
            },
        )
        .collect();
    // The adapter's name without its details ("llvmpipe", not its LLVM version), and the
    // machine only where one backend and adapter ran on several (the fingerprint includes the
    // adapter, so it differs between backends of one host anyway).
    let short_adapter = |s: &crate::schema::Series| s.adapter.split(" (").next().unwrap_or("").trim().to_owned();
    let name = |s: &crate::schema::Series| {
        let a = short_adapter(s);
        let mut n = if a.is_empty() || a == "-" { s.backend.clone() } else { format!("{} · {a}", s.backend) };
        if lines.iter().filter(|o| o.backend == s.backend && o.adapter == s.adapter).count() > 1 {
            n.push_str(&format!(" · {}", s.machine.chars().take(8).collect::<String>()));
        }
        n
    };
    let names: Vec<String> = lines.iter().map(|s| name(s)).collect();
    let colours: Vec<RGBColor> = names.iter().map(|n| palette.colour(n)).collect();
    let (lo, hi) = log_span(lines.iter().flat_map(|s| s.points.iter().flat_map(|p| [p.low, p.value, p.high])))
        .unwrap_or((0.0, 1.0));
    let n = runs.len().max(1);
    let id = format!("series-{kernel}-{case}-{dtype}-{metric}")
        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_");
    let title = format!("{kernel} {case} {dtype}: {metric} over runs");
    let legend_h = legend_height(&names);
    let h = 320 + legend_h;
    draw(&id, &title, (WIDTH, h), |root| {
        let (plot, legend) = root.split_vertically(320);
        let mut chart = ChartBuilder::on(&plot)
            .margin(8)
            .margin_right(24)
            .x_label_area_size(46)
            .y_label_area_size(72)
            .build_cartesian_2d(-0.5..(n as f64 - 0.5), lo..hi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels(n.min(12))
            .x_label_formatter(&|v| {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| if metric == "time" { fmt_ns(ex(*v)) } else { short(ex(*v)) })
            .y_desc(match metric {
                "time" => "median time (log)",
                "memory" => "bytes (log)",
                _ => "tokens/s (log)",
            })
            .x_desc("run (oldest first; commit)")
            .label_style(FONT)
            .draw()
            .map_err(err)?;
        let mut marks: Vec<(f64, String)> = Vec::new();
        for (s, c) in lines.iter().zip(&colours) {
            let pts: Vec<(f64, &crate::schema::SeriesPoint)> = s.points.iter().map(|p| (x_of(&p.run_id), p)).collect();
            let band: Vec<(f64, f64)> = pts
                .iter()
                .map(|(x, p)| (*x, lg(p.high)))
                .chain(pts.iter().rev().map(|(x, p)| (*x, lg(p.low))))
                .collect();
            chart.draw_series([Polygon::new(band, c.mix(0.18).filled())]).map_err(err)?;
            let line: Vec<(f64, f64)> = pts.iter().map(|(x, p)| (*x, lg(p.value))).collect();
            chart.draw_series(LineSeries::new(line.clone(), c.stroke_width(2))).map_err(err)?;
            chart.draw_series(line.into_iter().map(|p| Circle::new(p, 3, c.filled()))).map_err(err)?;
            for ch in &s.changes {
                let x = x_of(&ch.run_id) - 0.5;
                let step =
                    format!("{:+.0}% at {}", 100.0 * (ch.ratio - 1.0), ch.commit.chars().take(8).collect::<String>());
                marks.push((x, step));
            }
        }
        // One mark per change and label; lines that changed together share it.
        marks.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        marks.dedup();
        let mut drawn: Vec<f64> = Vec::new();
        for (x, step) in &marks {
            let k = drawn.iter().filter(|d| (**d - x).abs() < 1e-9).count();
            if k == 0 {
                chart
                    .draw_series(DashedLineSeries::new([(*x, lo), (*x, hi)], 5, 4, RED.stroke_width(2)))
                    .map_err(err)?;
            }
            drawn.push(*x);
            let at = (x + 0.05, hi - (0.04 + 0.06 * k as f64) * (hi - lo));
            chart
                .draw_series([Text::new(step.clone(), at, ("sans-serif", 12).into_font().color(&RED))])
                .map_err(err)?;
        }
        legend_boxes(&legend, &names, &colours)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_read_short() {
        assert_eq!(short(1500.0), "1.5k");
        assert_eq!(short(20.0), "20");
        assert_eq!(short(0.5), "0.50");
        assert_eq!(short(3e6), "3M");
    }

    #[test]
    fn a_series_chart_marks_its_change_point() {
        use crate::schema::{Series, SeriesChange, SeriesPoint};
        let points: Vec<SeriesPoint> = (0..6)
            .map(|i| {
                let v = if i < 3 { 100.0 } else { 150.0 };
                SeriesPoint {
                    run_id: format!("run{i}"),
                    created_at: format!("2026-12-0{}T00:00:00Z", i + 1),
                    commit: format!("c0mm1t{i}"),
                    value: v,
                    low: v * 0.95,
                    high: v * 1.05,
                    rounds: 1,
                }
            })
            .collect();
        let change = SeriesChange {
            index: 3,
            run_id: "run3".into(),
            commit: "c0mm1t3".into(),
            before: 100.0,
            after: 150.0,
            ratio: 1.5,
            p_value: 0.01,
        };
        let s = |backend: &str, changes: Vec<SeriesChange>| Series {
            kernel: "matmul-f32".into(),
            case: "128".into(),
            dtype: "f32".into(),
            backend: backend.into(),
            adapter: "llvmpipe".into(),
            machine: "abcdef0123".into(),
            metric: "time".into(),
            points: points.clone(),
            changes,
        };
        let figs =
            series(&[s("native-wgpu-vulkan", vec![change]), s("chrome-webgpu", vec![])], &mut Palette::default())
                .unwrap();
        assert_eq!(figs.len(), 1, "both backends share one chart");
        let svg = &figs[0].svg;
        assert!(svg.starts_with("<svg") && svg.contains("c0mm1t5") && svg.contains("chrome-webgpu"), "{}", &svg[..300]);
        assert!(svg.contains("+50% at c0mm1t3"), "the change point is labelled with its step");
    }
}
