//! SVG charts for where a person would rather look than read: throughput per kernel, latency
//! distributions, batch-size scaling and the KV-cache stream replayed token by token. Pure
//! functions of records; no state.

use harness::format::fmt_ns;
use harness::schema::{Record, Status};
use yew::{Html, html};

/// Compute-bound kernels are shown in GFLOP/s, memory-bound ones in GB/s (by arithmetic intensity).
pub fn headline(r: &Record) -> Option<(f64, &'static str)> {
    let t = r.throughput?;
    let intensity = if r.work.bytes > 0.0 { r.work.flops / r.work.bytes } else { f64::INFINITY };
    Some(if intensity >= 4.0 { (t.gflops, "GFLOP/s") } else { (t.gbps, "GB/s") })
}

fn measured(records: &[Record]) -> impl Iterator<Item = &Record> {
    records.iter().filter(|r| r.status == Status::Measured && r.timing.is_some())
}

const W: f64 = 760.0;
const LABEL_W: f64 = 300.0;
const ROW_H: f64 = 20.0;

/// Horizontal bars, one per measured record, grouped by unit, each scaled to its unit's maximum.
pub fn throughput(records: &[Record]) -> Html {
    let rows: Vec<(&Record, f64, &str)> =
        measured(records).filter_map(|r| headline(r).map(|(v, u)| (r, v, u))).collect();
    if rows.is_empty() {
        return html! { <p class="muted">{ "No measured records yet." }</p> };
    }
    let max_of = |unit: &str| rows.iter().filter(|(_, _, u)| *u == unit).map(|(_, v, _)| *v).fold(0.0, f64::max);
    let h = ROW_H * rows.len() as f64 + 10.0;
    html! {
        <svg class="chart" id="throughput-chart" viewBox={format!("0 0 {W} {h}")} role="img" aria-label="throughput per kernel">
            { for rows.iter().enumerate().map(|(i, (r, v, unit))| {
                let y = i as f64 * ROW_H + 5.0;
                let max = max_of(unit);
                let bw = if max > 0.0 { (W - LABEL_W - 110.0) * v / max } else { 0.0 };
                let class = if r.backend.ends_with("-wasm") || r.backend.starts_with("native-cpu") || r.backend == "native-reference" { "bar cpu" } else { "bar gpu" };
                html! {
                    <g class="mark">
                        <text x={format!("{}", LABEL_W - 6.0)} y={format!("{}", y + 13.0)} text-anchor="end" class="label">
                            { format!("{} {} · {}", r.kernel, r.case, r.backend) }
                        </text>
                        <rect class={class} x={format!("{LABEL_W}")} y={format!("{y}")} width={format!("{bw:.1}")} height={format!("{}", ROW_H - 4.0)}>
                            <title>{ format!("{v:.3} {unit}, median {}", fmt_ns(r.timing.as_ref().map_or(0.0, |t| t.summary.median_ns))) }</title>
                        </rect>
                        <text x={format!("{:.1}", LABEL_W + bw + 4.0)} y={format!("{}", y + 13.0)} class="value">{ format!("{v:.2} {unit}") }</text>
                    </g>
                }
            }) }
        </svg>
    }
}

/// Per measured record: every sample as a dot relative to its median (log scale, 0.5x to 2x),
/// with the p10-p90 band and the median's 95% CI, so spread and outliers are visible at once.
pub fn latency(records: &[Record]) -> Html {
    let rows: Vec<&Record> = measured(records).collect();
    if rows.is_empty() {
        return html! {};
    }
    let plot_w = W - LABEL_W - 20.0;
    let x = |ratio: f64| LABEL_W + plot_w * ((ratio.clamp(0.5, 2.0).log2() + 1.0) / 2.0);
    let h = ROW_H * rows.len() as f64 + 30.0;
    html! {
        <svg class="chart" id="latency-chart" viewBox={format!("0 0 {W} {h}")} role="img" aria-label="latency distribution">
            { for [0.5, 0.8, 1.0, 1.25, 2.0].iter().map(|&t| html! {
                <g>
                    <line class="grid" x1={format!("{:.1}", x(t))} x2={format!("{:.1}", x(t))} y1="0" y2={format!("{}", h - 18.0)} />
                    <text class="axis" x={format!("{:.1}", x(t))} y={format!("{}", h - 4.0)} text-anchor="middle">{ format!("{t}x") }</text>
                </g>
            }) }
            { for rows.iter().enumerate().map(|(i, r)| {
                let t = r.timing.as_ref().expect("measured records have timing");
                let m = t.summary.median_ns;
                let y = i as f64 * ROW_H + 5.0;
                let cy = y + ROW_H / 2.0 - 2.0;
                html! {
                    <g class="mark">
                        <text x={format!("{}", LABEL_W - 6.0)} y={format!("{}", y + 13.0)} text-anchor="end" class="label">
                            // The median is in the table and the tooltip; the label must fit its column.
                            <title>{ format!("median {}", fmt_ns(m)) }</title>
                            { format!("{} {} · {}", r.kernel, r.case, r.backend) }
                        </text>
                        <rect class="band" x={format!("{:.1}", x(t.summary.p10_ns / m))} y={format!("{y}")}
                            width={format!("{:.1}", (x(t.summary.p90_ns / m) - x(t.summary.p10_ns / m)).max(1.0))} height={format!("{}", ROW_H - 4.0)}>
                            <title>{ format!("p10 {} · p90 {} · CI {}-{} · n={}", fmt_ns(t.summary.p10_ns), fmt_ns(t.summary.p90_ns),
                                fmt_ns(t.summary.median_ci_low_ns), fmt_ns(t.summary.median_ci_high_ns), t.summary.n) }</title>
                        </rect>
                        <line class="ci" x1={format!("{:.1}", x(t.summary.median_ci_low_ns / m))} x2={format!("{:.1}", x(t.summary.median_ci_high_ns / m))}
                            y1={format!("{cy:.1}")} y2={format!("{cy:.1}")} />
                        { for t.samples_ns.iter().map(|s| html! {
                            <circle class="dot" cx={format!("{:.1}", x(s / m))} cy={format!("{cy:.1}")} r="2" />
                        }) }
                    </g>
                }
            }) }
        </svg>
    }
}

/// Throughput against batch size for kernels measured at several batches (matmul's `512-bN`).
pub fn batch_scaling(records: &[Record]) -> Html {
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for r in measured(records) {
        let (Some(&batch), Some((v, _))) = (r.params.get("batch"), headline(r)) else { continue };
        // Only same-shape sweeps: key on everything but the batch.
        let shape: Vec<String> =
            r.params.iter().filter(|(k, _)| *k != "batch").map(|(k, v)| format!("{k}={v}")).collect();
        let key = format!("{} {} · {}", r.kernel, shape.join(","), r.backend);
        match series.iter_mut().find(|(k, _)| *k == key) {
            Some((_, pts)) => pts.push((batch as f64, v)),
            None => series.push((key, vec![(batch as f64, v)])),
        }
    }
    series.retain(|(_, pts)| pts.len() >= 2);
    if series.is_empty() {
        return html! { <p class="muted">{ "Batch scaling needs one kernel measured at two or more batch sizes (the full matmul sizes)." }</p> };
    }
    let (pw, ph, left, top) = (W - 260.0, 200.0, 60.0, 10.0);
    let max_b = series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)).fold(1.0, f64::max);
    let max_v = series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)).fold(0.0, f64::max).max(1e-9);
    let x = |b: f64| left + pw * (b.log2() / max_b.log2().max(1.0));
    let y = |v: f64| top + ph * (1.0 - v / max_v);
    html! {
        <svg class="chart" viewBox={format!("0 0 {W} {}", ph + 40.0)} role="img" aria-label="batch-size scaling">
            <line class="grid" x1={format!("{left}")} x2={format!("{left}")} y1={format!("{top}")} y2={format!("{}", top + ph)} />
            <line class="grid" x1={format!("{left}")} x2={format!("{}", left + pw)} y1={format!("{}", top + ph)} y2={format!("{}", top + ph)} />
            <text class="axis" x="4" y={format!("{}", top + 8.0)}>{ format!("{max_v:.1}") }</text>
            <text class="axis" x={format!("{}", left + pw / 2.0)} y={format!("{}", ph + 36.0)} text-anchor="middle">{ "batch (log2)" }</text>
            { for series.iter().enumerate().map(|(i, (key, pts))| {
                let mut pts = pts.clone();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                let path: Vec<String> = pts.iter().map(|&(b, v)| format!("{:.1},{:.1}", x(b), y(v))).collect();
                html! {
                    <g class={format!("series s{}", i % 6)}>
                        <polyline points={path.join(" ")} />
                        { for pts.iter().map(|&(b, v)| html! {
                            <circle cx={format!("{:.1}", x(b))} cy={format!("{:.1}", y(v))} r="3"><title>{ format!("batch {b}: {v:.2}") }</title></circle>
                        }) }
                        <text class="legend" x={format!("{}", left + pw + 10.0)} y={format!("{}", top + 14.0 * i as f64 + 10.0)}>{ key.clone() }</text>
                    </g>
                }
            }) }
        </svg>
    }
}

/// The KV-cache streaming scenario as a user sees it: tokens appearing one by one, each after its
/// measured step latency (a replay of the GPU timestamps, scaled so the slowest run takes ~6 s).
pub fn kv_stream(records: &[Record]) -> Html {
    let streams: Vec<&Record> = measured(records)
        // A stream is whatever was timed as decode steps (`step N` phases), whichever kernel.
        .filter(|r| r.timing.as_ref().is_some_and(|t| t.phases.iter().any(|p| p.label.starts_with("step"))))
        .collect();
    if streams.is_empty() {
        return html! { <p class="muted">{ "The KV-cache stream shows here once kvcache-stream is measured on WebGPU (per-step timestamps)." }</p> };
    }
    html! {
        <div>
        { for streams.iter().map(|r| {
            let phases = &r.timing.as_ref().expect("filtered").phases;
            let steps: Vec<(String, f64)> = phases.iter().filter(|p| p.label.starts_with("step")).map(|p| (p.label.clone(), p.median_ns)).collect();
            let total: f64 = phases.iter().map(|p| p.median_ns).sum();
            let prefill: f64 = phases.iter().filter(|p| !p.label.starts_with("step")).map(|p| p.median_ns).sum();
            let scale = 6e9 / total.max(1.0);
            let max_step = steps.iter().map(|s| s.1).fold(0.0, f64::max).max(1.0);
            let mut at = prefill;
            html! {
                <div class="kv">
                    <p>{ format!("{} {} · {}: prefill {}, then {} decode steps, median {} per token", r.kernel, r.case, r.backend,
                        fmt_ns(prefill), steps.len(), fmt_ns(median(steps.iter().map(|s| s.1).collect()))) }</p>
                    <div class="tokens">
                        { for steps.iter().enumerate().map(|(i, (label, ns))| {
                            at += ns;
                            let style = format!("animation-delay: {:.0}ms; height: {:.0}px", at * scale / 1e6, 4.0 + 36.0 * ns / max_step);
                            html! { <span class="tok" style={style} title={format!("{label}: {}", fmt_ns(*ns))}>{ i + 1 }</span> }
                        }) }
                    </div>
                </div>
            }
        }) }
        </div>
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}
