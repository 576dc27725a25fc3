//! SVG charts for where a person would rather look than read: throughput per kernel, latency
//! distributions, a scaling chart for every sweep (harness::charts, the report's and the
//! dashboard's code path) and the KV-cache stream replayed token by token. Pure functions of
//! records; no state.

use harness::format::fmt_ns;
pub use harness::scaling::headline;
use harness::schema::{Record, Status};
use yew::{AttrValue, Html, html};

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

/// One chart per scaling series ([`harness::scaling::find`]: a sweep, or catalogue sets that
/// differ in one parameter): median time and throughput against the swept parameter, a line
/// per backend, drawn by harness::charts as the HTML report and the dashboard draw it.
pub fn scaling(records: &[Record]) -> Html {
    let found = harness::scaling::find(records);
    if found.is_empty() {
        return html! { <p class="muted">{ "Scaling charts appear for a sweep (e.g. softmax:cols=128..4096x2 in the sweep box), one line per backend." }</p> };
    }
    let mut palette = harness::charts::Palette::backends(records);
    html! {
        <div id="scaling-charts">
            { for found.iter().map(|s| match harness::charts::scaling(s, &mut palette) {
                Ok(f) => html! {
                    <figure class="scaling" data-kernel={s.kernel.clone()} data-param={s.param.clone()}>
                        <figcaption>{ s.title() }</figcaption>
                        // plotters' own SVG, its text escaped there.
                        { Html::from_html_unchecked(AttrValue::from(f.svg)) }
                    </figure>
                },
                Err(e) => html! { <p class="error">{ e.to_string() }</p> },
            }) }
        </div>
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

/// Prefill and decode tokens/s per model record, each kind scaled to its own maximum (decode
/// is one token per pass, prefill a whole prompt, so one scale would hide decode).
pub fn model_rates(records: &[Record]) -> Html {
    let rows: Vec<(&Record, &str, f64)> = measured(records)
        .filter_map(|r| r.model.as_ref().map(|m| (r, m)))
        .flat_map(|(r, m)| {
            let first = if m.generated_tokens == 0 { "encode" } else { "prefill" };
            [(first, m.prefill_tokens_per_s), ("decode", m.decode_tokens_per_s)]
                .into_iter()
                .filter_map(move |(k, v)| v.map(|v| (r, k, v)))
        })
        .collect();
    if rows.is_empty() {
        return html! { <p class="muted">{ "No measured model yet." }</p> };
    }
    let max_of = |kind: &str| rows.iter().filter(|(_, k, _)| *k == kind).map(|(_, _, v)| *v).fold(0.0, f64::max);
    let h = ROW_H * rows.len() as f64 + 10.0;
    html! {
        <svg class="chart" id="model-rates-chart" viewBox={format!("0 0 {W} {h}")} role="img" aria-label="prefill and decode tokens per second">
            { for rows.iter().enumerate().map(|(i, (r, kind, v))| {
                let y = i as f64 * ROW_H + 5.0;
                let max = max_of(kind);
                let bw = if max > 0.0 { (W - LABEL_W - 110.0) * v / max } else { 0.0 };
                html! {
                    <g class="mark">
                        <text x={format!("{}", LABEL_W - 6.0)} y={format!("{}", y + 13.0)} text-anchor="end" class="label">
                            { format!("{} {} · {}", r.kernel, kind, r.backend) }
                        </text>
                        <rect class={format!("bar {}", if *kind == "decode" { "decode" } else { "prefill" })} x={format!("{LABEL_W}")} y={format!("{y}")} width={format!("{bw:.1}")} height={format!("{}", ROW_H - 4.0)}>
                            <title>{ format!("{v:.1} tokens/s ({kind})") }</title>
                        </rect>
                        <text x={format!("{:.1}", LABEL_W + bw + 4.0)} y={format!("{}", y + 13.0)} class="value">{ format!("{v:.1} tok/s") }</text>
                    </g>
                }
            }) }
        </svg>
    }
}

/// The device bytes of each model record split into weights, KV cache and activations, one
/// stacked bar per record on a common scale.
pub fn model_memory(records: &[Record]) -> Html {
    let rows: Vec<(&Record, &harness::schema::DeviceBytes)> = records
        .iter()
        .filter_map(|r| r.model.as_ref().map(|m| (r, &m.device_bytes)))
        .filter(|(_, d)| d.total > 0)
        .collect();
    if rows.is_empty() {
        return html! {};
    }
    let max = rows.iter().map(|(_, d)| d.total).max().unwrap_or(1) as f64;
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    let plot = W - LABEL_W - 230.0;
    let h = ROW_H * rows.len() as f64 + 10.0;
    html! {
        <svg class="chart" id="model-memory-chart" viewBox={format!("0 0 {W} {h}")} role="img" aria-label="device memory by kind">
            { for rows.iter().enumerate().map(|(i, (r, d))| {
                let y = i as f64 * ROW_H + 5.0;
                let parts = [("weights", d.weights), ("kv-cache", d.kv_cache), ("activations", d.activations)];
                let mut x = LABEL_W;
                html! {
                    <g class="mark">
                        <text x={format!("{}", LABEL_W - 6.0)} y={format!("{}", y + 13.0)} text-anchor="end" class="label">
                            { format!("{} {} · {}", r.kernel, r.case, r.backend) }
                        </text>
                        { for parts.iter().map(|(kind, bytes)| {
                            let bw = plot * *bytes as f64 / max;
                            let rect = html! {
                                <rect class={format!("bar mem-{kind}")} x={format!("{x:.1}")} y={format!("{y}")} width={format!("{bw:.1}")} height={format!("{}", ROW_H - 4.0)}>
                                    <title>{ format!("{kind}: {:.2} MiB", mib(*bytes)) }</title>
                                </rect>
                            };
                            x += bw;
                            rect
                        }) }
                        <text x={format!("{:.1}", x + 4.0)} y={format!("{}", y + 13.0)} class="value">
                            { format!("{:.1} MiB (w {:.1} · kv {:.1} · act {:.1})", mib(d.total), mib(d.weights), mib(d.kv_cache), mib(d.activations)) }
                        </text>
                    </g>
                }
            }) }
        </svg>
    }
}

/// Each training record's loss per step (solid) over the f64 reference's (dashed), one polyline
/// per record on shared axes: the curve falling is the training working, the two lines on top
/// of each other the backend computing it right.
pub fn loss_curves(records: &[Record]) -> Html {
    let runs: Vec<(&Record, &harness::schema::TrainingMetrics)> = records
        .iter()
        .filter_map(|r| r.training.as_ref().map(|t| (r, t)))
        .filter(|(_, t)| !t.losses.is_empty())
        .collect();
    if runs.is_empty() {
        return html! { <p class="muted">{ "No training step measured yet." }</p> };
    }
    let (h, left, right, top, bottom) = (220.0, 60.0, 260.0, 10.0, 30.0);
    let steps = runs.iter().map(|(_, t)| t.losses.len()).max().unwrap_or(1).max(2);
    let max = runs.iter().flat_map(|(_, t)| t.losses.iter().chain(&t.reference_losses)).copied().fold(0.0, f64::max);
    let x = |i: usize| left + (W - left - right) * i as f64 / (steps - 1) as f64;
    let y = |l: f64| top + (h - top - bottom) * (1.0 - l / max.max(1e-9));
    let line = |v: &[f64]| {
        v.iter().enumerate().map(|(i, &l)| format!("{:.1},{:.1}", x(i), y(l))).collect::<Vec<_>>().join(" ")
    };
    html! {
        <svg class="chart" id="loss-chart" viewBox={format!("0 0 {W} {h}")} role="img" aria-label="training loss per step">
            <line class="axis" x1={format!("{left}")} y1={format!("{}", h - bottom)} x2={format!("{}", W - right)} y2={format!("{}", h - bottom)} />
            <line class="axis" x1={format!("{left}")} y1={format!("{top}")} x2={format!("{left}")} y2={format!("{}", h - bottom)} />
            <text x={format!("{}", left - 6.0)} y={format!("{}", top + 10.0)} text-anchor="end" class="label">{ format!("{max:.2}") }</text>
            <text x={format!("{}", left - 6.0)} y={format!("{}", h - bottom)} text-anchor="end" class="label">{ "0" }</text>
            <text x={format!("{}", (left + W - right) / 2.0)} y={format!("{}", h - 8.0)} text-anchor="middle" class="label">{ format!("step (1..{steps})") }</text>
            { for runs.iter().enumerate().map(|(i, (r, t))| {
                let hue = (i * 67) % 360;
                let ly = top + 14.0 * i as f64 + 10.0;
                html! {
                    <g class="mark loss" data-model={r.kernel.clone()} data-backend={r.backend.clone()}>
                        <polyline class="reference" fill="none" stroke-dasharray="4 3" style={format!("stroke: hsl({hue} 40% 60%)")} points={line(&t.reference_losses)} />
                        <polyline fill="none" style={format!("stroke: hsl({hue} 70% 45%); stroke-width: 2")} points={line(&t.losses)}>
                            <title>{ format!("{} · {}: {:.3} -> {:.3}", r.kernel, r.backend, t.losses[0], t.losses[t.losses.len() - 1]) }</title>
                        </polyline>
                        <text x={format!("{}", W - right + 8.0)} y={format!("{ly}")} class="label" style={format!("fill: hsl({hue} 70% 40%)")}>
                            { format!("{} · {}", r.kernel, r.backend) }
                        </text>
                    </g>
                }
            }) }
        </svg>
    }
}
