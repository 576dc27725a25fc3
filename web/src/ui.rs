//! The page's components: adapter panel, controls, progress, sortable results, charts and the
//! comparison with the latest native run stored on the companion server. Everything shown is
//! read from the shared state or fetched from the server; nothing here measures.

use std::collections::BTreeMap;

use harness::catalogue::{KERNELS, Size};
use harness::format::fmt_ns;
use harness::schema::{PageBackendChoice, PageRunConfig, Record, RunDetail, RunSummary, Status};
use wasm_bindgen::JsCast as _;
use yew::prelude::*;

use crate::charts;
use crate::js;
use crate::state::{self, Phase};
use crate::suite;

#[function_component(App)]
pub fn app() -> Html {
    state::use_shared();
    let phase = state::read(|s| s.phase());
    html! {
        <main>
            <header>
                <h1>{ "accelbench" }</h1>
                <p class="muted">{ "ML compute kernels measured in this browser (WebGPU or WASM on the CPU), checked against a CPU reference before timing." }</p>
            </header>
            if phase == Phase::Loading {
                <p class="status">{ "Detecting WebGPU…" }</p>
            } else {
                <AdapterPanel />
                <Controls />
                <ProgressView />
                <Results />
            }
        </main>
    }
}

#[function_component(AdapterPanel)]
fn adapter_panel() -> Html {
    state::use_shared();
    let Some(env) = state::read(|s| s.env.clone()) else { return html! {} };
    let b = &env.browser;
    html! {
        <section class="panel" id="environment">
            <h2>{ "Environment" }</h2>
            <dl>
                <dt>{ "Browser" }</dt><dd>{ format!("{} {}", b.name, b.version) }</dd>
                <dt>{ "crossOriginIsolated" }</dt><dd>{ b.cross_origin_isolated.to_string() }</dd>
                <dt>{ "Host timer" }</dt><dd>{ format!("performance.now(), measured resolution {}", fmt_ns(env.host_clock_resolution_ns)) }</dd>
                <dt>{ "Companion server" }</dt><dd>{ if env.server { "yes: runs are stored there" } else { "no: download the results below" } }</dd>
                <dt>{ "Suite commit" }</dt><dd>{ env.commit.clone() }</dd>
            </dl>
            { match (&env.webgpu, &env.webgpu_missing) {
                (Some(a), _) => html! {
                    <>
                    <h3>{ "WebGPU adapter" }</h3>
                    <dl>
                        <dt>{ "Description" }</dt><dd id="adapter-name">{ a.name.clone() }</dd>
                        <dt>{ "Vendor / architecture" }</dt><dd>{ format!("{} / {}", a.vendor, a.driver) }</dd>
                        <dt>{ "isFallbackAdapter" }</dt><dd>{ a.is_fallback_adapter.map_or("not reported".to_owned(), |f| f.to_string()) }</dd>
                        <dt>{ "Timer" }</dt><dd>{ if a.features.iter().any(|f| f == "timestamp-query") { "GPU timestamp queries (timestampWrites per pass)" } else { "host fences (no timestamp-query)" } }</dd>
                        <dt>{ "Features (the browser's adapter.features)" }</dt>
                        <dd id="adapter-features">{ if a.browser_features.is_empty() { a.features.join(", ") } else { a.browser_features.join(", ") } }</dd>
                        if !a.browser_features.is_empty() {
                            <dt>{ "Usable through wgpu" }</dt><dd id="wgpu-features">{ a.features.join(", ") }</dd>
                        }
                    </dl>
                    if a.fallback {
                        <p class="warn">{ "This is a software (CPU) adapter: its numbers show correctness and ratios on this machine, not GPU speed." }</p>
                    }
                    <table class="limits"><tbody>
                        { for a.limits.iter().map(|(k, v)| html! { <tr><td>{ k.clone() }</td><td class="num">{ v }</td></tr> }) }
                    </tbody></table>
                    </>
                },
                (None, Some(why)) => html! {
                    <p class="warn" id="webgpu-missing">
                        { format!("No WebGPU: {why}. Runs use the WASM CPU path, labelled {}-wasm; those are CPU numbers.", b.name) }
                    </p>
                },
                (None, None) => html! {},
            } }
        </section>
    }
}

fn input_value(e: &Event) -> String {
    e.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()).map(|i| i.value()).unwrap_or_else(|| {
        e.target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok())
            .map(|s| s.value())
            .or_else(|| e.target().and_then(|t| t.dyn_into::<web_sys::HtmlTextAreaElement>().ok()).map(|t| t.value()))
            .unwrap_or_default()
    })
}

#[derive(Properties, PartialEq)]
struct ChoiceProps {
    id: AttrValue,
    /// The value in effect; the select always shows it.
    value: String,
    options: Vec<(&'static str, &'static str)>,
    onchange: Callback<Event>,
}

/// A controlled `<select>`: it shows the value in effect, whatever order the browser inserted
/// the options in (an uncontrolled select shows whichever option it saw first, which under
/// Yew's insertion order is the last one).
#[function_component(Choice)]
fn choice(p: &ChoiceProps) -> Html {
    let node = use_node_ref();
    {
        let (node, value) = (node.clone(), p.value.clone());
        use_effect(move || {
            if let Some(select) = node.cast::<web_sys::HtmlSelectElement>() {
                select.set_value(&value);
            }
        });
    }
    html! {
        <select id={p.id.clone()} ref={node} onchange={p.onchange.clone()}>
            { for p.options.iter().map(|(v, label)| html! {
                <option value={*v} selected={p.value == *v}>{ *label }</option>
            }) }
        </select>
    }
}

/// The non-empty lines of a text field.
fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

#[function_component(Controls)]
fn controls() -> Html {
    state::use_shared();
    let chosen = use_state(|| KERNELS.iter().map(|k| k.id.to_owned()).collect::<Vec<_>>());
    let models = use_state(Vec::<String>::new);
    let prompt = use_state(String::new);
    let generate = use_state(String::new);
    let size = use_state(|| "quick".to_owned());
    let dtype = use_state(|| "all".to_owned());
    let mode = use_state(|| "all".to_owned());
    let backend = use_state(|| "auto".to_owned());
    let min_samples = use_state(String::new);
    let budget = use_state(String::new);
    let cases = use_state(String::new);
    let sweeps = use_state(String::new);
    let error = use_state(|| None::<String>);
    let phase = state::read(|s| s.phase());
    let has_records = state::read(|s| !s.records.is_empty());

    let run = {
        let (cases, sweeps) = (cases.clone(), sweeps.clone());
        let (models, prompt, generate) = (models.clone(), prompt.clone(), generate.clone());
        let (chosen, size, dtype, mode, backend, min_samples, budget, error) = (
            chosen.clone(),
            size.clone(),
            dtype.clone(),
            mode.clone(),
            backend.clone(),
            min_samples.clone(),
            budget.clone(),
            error.clone(),
        );
        Callback::from(move |_| {
            // Models ticked with no kernel: the models alone (an empty kernel list with models
            // selects no kernel).
            let config = PageRunConfig {
                kernels: (*chosen).clone(),
                models: (*models).clone(),
                prompt: prompt.parse().ok(),
                generate: generate.parse().ok(),
                // The selects offer only these values.
                size: if *size == "full" { Size::Full } else { Size::Quick },
                backends: match backend.as_str() {
                    "both" => vec![PageBackendChoice::Webgpu, PageBackendChoice::Wasm],
                    other => vec![other.parse().unwrap_or(PageBackendChoice::Auto)],
                },
                dtypes: if *dtype == "all" { vec![] } else { vec![(*dtype).clone()] },
                // The chosen precision is the models' too; `all` runs them at f32.
                model_weights: if *dtype == "all" { vec![] } else { vec![(*dtype).clone()] },
                modes: if *mode == "all" { vec![] } else { vec![(*mode).clone()] },
                min_samples: min_samples.parse().ok(),
                budget_s: budget.parse().ok(),
                cases: lines(&cases),
                sweeps: lines(&sweeps),
                ..PageRunConfig::default()
            };
            let nothing = config.kernels.is_empty() && config.cases.is_empty() && config.sweeps.is_empty();
            error.set(if nothing && config.models.is_empty() {
                Some("choose at least one kernel or model, or write a case or sweep".into())
            } else {
                suite::start(&config).err()
            });
        })
    };
    let cancel = Callback::from(|_| state::update(|s| s.cancel_requested = true));
    let download = Callback::from(|_| {
        let (id, text) = state::read(|s| {
            let lines: Vec<String> = s.records.iter().filter_map(|r| serde_json::to_string(r).ok()).collect();
            (s.run_id.clone().unwrap_or_else(|| "run".into()), lines.join("\n") + "\n")
        });
        if let Err(e) = js::download(&format!("accelbench-{id}.jsonl"), "application/x-ndjson", &text) {
            web_sys::console::error_1(&e.into());
        }
    });
    let toggle = |id: &'static str| {
        let chosen = chosen.clone();
        Callback::from(move |_| {
            let mut v = (*chosen).clone();
            if let Some(i) = v.iter().position(|k| k == id) {
                v.remove(i);
            } else {
                v.push(id.to_owned());
            }
            chosen.set(v);
        })
    };
    let all = {
        let chosen = chosen.clone();
        Callback::from(move |_| chosen.set(KERNELS.iter().map(|k| k.id.to_owned()).collect()))
    };
    let none = {
        let chosen = chosen.clone();
        Callback::from(move |_| chosen.set(vec![]))
    };
    let toggle_model = |id: &'static str| {
        let models = models.clone();
        Callback::from(move |_| {
            let mut v = (*models).clone();
            if let Some(i) = v.iter().position(|m| m == id) {
                v.remove(i);
            } else {
                v.push(id.to_owned());
            }
            models.set(v);
        })
    };
    let set = |h: &UseStateHandle<String>| {
        let h = h.clone();
        Callback::from(move |e: Event| h.set(input_value(&e)))
    };
    let running = phase == Phase::Running;
    html! {
        <section class="panel" id="controls">
            <h2>{ "Run" }</h2>
            <fieldset class="kernels" disabled={running}>
                <legend>{ "Kernels " }<button id="kernels-all" onclick={all}>{ "all" }</button><button id="kernels-none" onclick={none}>{ "none" }</button></legend>
                { for KERNELS.iter().map(|k| html! {
                    <label title={format!("{}\nparameters: {}", k.summary, harness::cases::accepted(k))}>
                        <input type="checkbox" value={k.id} checked={chosen.contains(&k.id.to_owned())} onchange={toggle(k.id)} />
                        { k.id }
                    </label>
                }) }
            </fieldset>
            <fieldset class="models" id="models-choice" disabled={running}>
                <legend>{ "Models (after the kernels; at the quick size each runs at its small scale in seconds)" }</legend>
                { for harness::model::PRESETS.iter().map(|p| html! {
                    <label title={p.summary}>
                        <input type="checkbox" value={p.id} checked={models.contains(&p.id.to_owned())} onchange={toggle_model(p.id)} />
                        { p.id }
                    </label>
                }) }
                <label>{ "Prompt " }<input id="prompt" type="number" min="1" placeholder="32 quick / 512 full" value={(*prompt).clone()} onchange={set(&prompt)} /></label>
                <label>{ "Generate " }<input id="generate" type="number" min="0" placeholder="16 quick / 128 full" value={(*generate).clone()} onchange={set(&generate)} /></label>
            </fieldset>
            <fieldset disabled={running}>
                <label>{ "Sizes " }<Choice id="size" value={(*size).clone()} onchange={set(&size)}
                    options={vec![("quick", "quick"), ("full", "full")]} /></label>
                <label title="kernels of this precision; ticked models run at it (all: models at f32)">{ "dtype " }<Choice id="dtype" value={(*dtype).clone()} onchange={set(&dtype)}
                    options={vec![("all", "all"), ("f32", "f32"), ("f16", "f16"), ("q8", "q8"), ("q4", "q4")]} /></label>
                <label title="inference: forward kernels and model runs; training: backward kernels, the loss, AdamW and each ticked decoder's training steps">{ "Mode " }<Choice id="mode" value={(*mode).clone()} onchange={set(&mode)}
                    options={vec![("all", "both"), ("inference", "inference"), ("training", "training")]} /></label>
                <label>{ "Backend " }<Choice id="backend" value={(*backend).clone()} onchange={set(&backend)}
                    options={vec![("auto", "auto (WebGPU, else WASM)"), ("webgpu", "WebGPU"), ("wasm", "WASM CPU"), ("both", "both")]} /></label>
                <label>{ "Min samples " }<input type="number" min="2" placeholder="size default" value={(*min_samples).clone()} onchange={set(&min_samples)} /></label>
                <label>{ "Budget (s) " }<input type="number" min="0.1" step="0.1" placeholder="size default" value={(*budget).clone()} onchange={set(&budget)} /></label>
            </fieldset>
            <fieldset disabled={running} class="cases">
                <legend>{ "Your own shapes (one per line; without ticked kernels only these run)" }</legend>
                <label>{ "Cases " }<textarea id="cases" rows="2" cols="48" placeholder="matmul-f32:m=4096,n=11008,k=4096"
                    value={(*cases).clone()} onchange={set(&cases)} /></label>
                <label>{ "Sweeps " }<textarea id="sweeps" rows="2" cols="48" placeholder="attention-flash:seq_len=128..1024x2"
                    value={(*sweeps).clone()} onchange={set(&sweeps)} /></label>
                <p class="muted">{ "Keys left out take the kernel's first parameter set; hover a kernel for its keys and limits." }</p>
            </fieldset>
            <button id="run" onclick={run} disabled={running}>{ "Run" }</button>
            <button id="cancel" onclick={cancel} disabled={!running}>{ "Cancel" }</button>
            <button id="download" onclick={download} disabled={!has_records}>{ "Download JSON Lines" }</button>
            if let Some(e) = &*error { <p class="error">{ e.clone() }</p> }
        </section>
    }
}

#[function_component(ProgressView)]
fn progress_view() -> Html {
    state::use_shared();
    let st = state::read(|s| s.page_state(js::now_ms()));
    if st.phase == Phase::Idle {
        return html! {};
    }
    let pct = if st.total > 0 { 100.0 * st.done as f64 / st.total as f64 } else { 0.0 };
    html! {
        <section class="panel" id="progress">
            <p>
                <strong id="phase">{ st.phase.name() }</strong>
                <span id="progress-count">{ format!(" · {} of {} cases", st.done, st.total) }</span>
                { format!(" · {:.1} s", st.elapsed_ms / 1e3) }
                { st.posted.map_or(String::new(), |p| if p { " · stored on the server".into() } else { " · the server did not store it (see the console)".into() }) }
            </p>
            <progress id="progress-bar" max="100" value={format!("{pct:.0}")}></progress>
            if let Some(c) = &st.current {
                <p class="muted">{ format!("{} {} on {}: {} samples, {:.1} s", c.kernel, c.case, c.backend, c.samples, c.elapsed_ms / 1e3) }</p>
            }
            if st.phase == Phase::Cancelled {
                <p class="warn" id="cancelled">{ format!("Cancelled after {} of {} cases; the records measured so far are kept below.", st.done, st.total) }</p>
            }
            if let Some(e) = &st.error { <p class="error">{ e.clone() }</p> }
        </section>
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Order,
    Kernel,
    Backend,
    Median,
    Spread,
    Throughput,
    Status,
}

fn spread(r: &Record) -> f64 {
    r.timing
        .as_ref()
        .map_or(f64::NAN, |t| (t.summary.median_ci_high_ns - t.summary.median_ci_low_ns) / t.summary.median_ns)
}

#[function_component(Results)]
fn results() -> Html {
    state::use_shared();
    let sort = use_state(|| (SortKey::Order, false));
    let records = state::read(|s| s.records.clone());
    if records.is_empty() {
        return html! {};
    }
    let mut rows: Vec<(usize, &Record)> = records.iter().enumerate().collect();
    let (key, desc) = *sort;
    let num = |r: &Record, f: fn(&Record) -> f64| {
        let v = f(r);
        if v.is_nan() { f64::INFINITY } else { v }
    };
    rows.sort_by(|(ia, a), (ib, b)| {
        let o = match key {
            SortKey::Order => ia.cmp(ib),
            SortKey::Kernel => (a.kernel.as_str(), a.case.as_str()).cmp(&(b.kernel.as_str(), b.case.as_str())),
            SortKey::Backend => a.backend.cmp(&b.backend),
            SortKey::Median => num(a, |r| r.timing.as_ref().map_or(f64::NAN, |t| t.summary.median_ns))
                .total_cmp(&num(b, |r| r.timing.as_ref().map_or(f64::NAN, |t| t.summary.median_ns))),
            SortKey::Spread => num(a, spread).total_cmp(&num(b, spread)),
            SortKey::Throughput => num(a, |r| charts::headline(r).map_or(f64::NAN, |h| h.0))
                .total_cmp(&num(b, |r| charts::headline(r).map_or(f64::NAN, |h| h.0))),
            SortKey::Status => a.status.label().cmp(b.status.label()),
        };
        if desc { o.reverse() } else { o }
    });
    let header = |label: &'static str, k: SortKey| {
        let sort = sort.clone();
        let mark = if key == k { if desc { " ▼" } else { " ▲" } } else { "" };
        html! { <th class="sortable" onclick={Callback::from(move |_| sort.set((k, if sort.0 == k { !sort.1 } else { false })))}>{ label }{ mark }</th> }
    };
    let counts = records.iter().fold(BTreeMap::<&str, usize>::new(), |mut m, r| {
        *m.entry(r.status.label()).or_default() += 1;
        m
    });
    html! {
        <>
        <section class="panel" id="results">
            <h2>{ "Results" }</h2>
            <p class="muted">{ counts.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(" · ") }</p>
            <table class="results">
                <thead><tr>
                    { header("#", SortKey::Order) }{ header("kernel / case", SortKey::Kernel) }<th>{ "dtype" }</th>
                    { header("backend", SortKey::Backend) }{ header("median", SortKey::Median) }
                    { header("95% CI width", SortKey::Spread) }{ header("throughput", SortKey::Throughput) }
                    <th title="share of this backend's practical peak in this run: memory or compute, whichever is larger">{ "of peak" }</th>
                    <th>{ "timer" }</th><th title="reduced-precision kernels: relative RMS error against the same operation in f32">{ "vs f32" }</th>
                    <th title="WebGPU: the implementation that ran and how it was chosen">{ "variant" }</th>{ header("status", SortKey::Status) }
                </tr></thead>
                <tbody>
                { for rows.iter().map(|(i, r)| {
                    let t = r.timing.as_ref();
                    html! {
                        <tr class={r.status.label()}>
                            <td class="num">{ i + 1 }</td>
                            <td>{ format!("{} {}", r.kernel, r.case) }</td>
                            <td>{ r.dtype.clone() }</td>
                            <td>{ r.backend.clone() }</td>
                            <td class="num">{ t.map_or(String::new(), |t| fmt_ns(t.summary.median_ns)) }</td>
                            <td class="num">{ if spread(r).is_nan() { String::new() } else { format!("±{:.1}%", 50.0 * spread(r)) } }</td>
                            <td class="num">{ charts::headline(r).map_or(String::new(), |(v, u)| format!("{v:.2} {u}")) }</td>
                            <td class="num">{ harness::format::fmt_peak(r) }</td>
                            <td>{ t.map_or(String::new(), |t| format!("{} ×{}", t.timer.kind, t.batch)) }</td>
                            <td class="num">{ harness::format::fmt_vs_f32(r) }</td>
                            <td>{ harness::format::fmt_variant(r) }</td>
                            <td title={r.status.reason().unwrap_or_default().to_owned()}>
                                { r.status.label() }
                                if let Some(reason) = r.status.reason() { <div class="reason">{ reason.to_owned() }</div> }
                            </td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
        </section>
        <Models />
        <Training />
        <section class="panel"><h2>{ "Throughput" }</h2>{ charts::throughput(&records) }</section>
        <section class="panel"><h2>{ "Latency distribution" }</h2>
            <p class="muted">{ "Each sample relative to its record's median; band p10-p90, line the median's 95% CI." }</p>
            { charts::latency(&records) }</section>
        <section class="panel"><h2>{ "Scaling" }</h2>{ charts::scaling(&records) }</section>
        <section class="panel"><h2>{ "KV-cache streaming decode" }</h2>{ charts::kv_stream(&records) }</section>
        <NativeComparison />
        </>
    }
}

/// Whole models: the figures per backend, prefill and decode bars, the device-memory split,
/// and each decoder's own tokens replayed at the pace this backend produced them.
#[function_component(Models)]
fn models() -> Html {
    state::use_shared();
    let records: Vec<Record> = state::read(|s| {
        s.records
            .iter()
            .filter(|r| r.family == "model" && r.mode == harness::schema::Mode::Inference)
            .cloned()
            .collect()
    });
    if records.is_empty() {
        return html! {};
    }
    let rows = harness::format::model_rows(&records);
    html! {
        <section class="panel" id="models">
            <h2>{ "Models" }</h2>
            <p class="muted">{ "Checked against the f64 reference before timing (decoders step by step under forced decoding). Device figures come from GPU timestamps per pass; host token latency is submit to token id on the CPU, what a page waits for." }</p>
            <table class="results" id="models-table">
                <thead><tr>{ for harness::format::MODEL_HEADER.iter().map(|h| html! { <th>{ *h }</th> }) }</tr></thead>
                <tbody>
                { for rows.iter().zip(&records).map(|(row, r)| html! {
                    <tr class={r.status.label()} data-model={r.kernel.clone()} data-backend={r.backend.clone()}>
                        { for row.iter().enumerate().map(|(i, c)| html! {
                            <td class={if (3..=10).contains(&i) { "num" } else { "" }}>{ c.clone() }</td>
                        }) }
                    </tr>
                }) }
                </tbody>
            </table>
            <h3>{ "Prefill and decode" }</h3>
            { charts::model_rates(&records) }
            <h3>{ "Device memory" }</h3>
            { charts::model_memory(&records) }
            <h3>{ "Token streams" }</h3>
            <p class="muted">{ "Each decoder's own greedy tokens, replayed at this backend's measured pace: the first after TTFT, then one per median host token latency." }</p>
            { for records.iter().filter(|r| r.model.as_ref().is_some_and(|m| !m.generated.is_empty())).map(|r| html! {
                <TokenStream record={r.clone()} />
            }) }
        </section>
    }
}

/// Training steps: steps and tokens per second per decoder and backend, the loss curve against
/// the f64 reference's, and inference against training on the same backend.
#[function_component(Training)]
fn training() -> Html {
    state::use_shared();
    let all: Vec<Record> = state::read(|s| s.records.iter().filter(|r| r.family == "model").cloned().collect());
    let trained: Vec<Record> = all.iter().filter(|r| r.mode == harness::schema::Mode::Training).cloned().collect();
    if trained.is_empty() {
        return html! {};
    }
    // Rows come from every model record so inference figures sit beside training's.
    let rows = harness::format::training_rows(&all);
    html! {
        <section class="panel" id="training">
            <h2>{ "Training" }</h2>
            <p class="muted">{ "Each decoder trained on one fixed batch: forward, cross-entropy, backward through every layer, AdamW. Each step is timed from submit until its loss is back on the host; every loss is checked against the f64 reference's." }</p>
            <table class="results" id="training-table">
                <thead><tr>{ for harness::format::TRAINING_HEADER.iter().map(|h| html! { <th>{ *h }</th> }) }</tr></thead>
                <tbody>
                { for rows.iter().zip(&trained).map(|(row, r)| html! {
                    <tr class={r.status.label()} data-model={r.kernel.clone()} data-backend={r.backend.clone()}>
                        { for row.iter().enumerate().map(|(i, c)| html! {
                            <td class={if (3..=8).contains(&i) { "num" } else { "" }}>{ c.clone() }</td>
                        }) }
                    </tr>
                }) }
                </tbody>
            </table>
            <h3>{ "Loss per step" }</h3>
            { charts::loss_curves(&trained) }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct StreamProps {
    record: Record,
}

/// A decoder's generated ids appearing one by one at the measured pace (TTFT, then the host's
/// median per-token latency), on demand.
#[function_component(TokenStream)]
fn token_stream(p: &StreamProps) -> Html {
    let shown = use_state(|| 0usize);
    let m = p.record.model.as_ref().expect("filtered to model records");
    let tokens = m.generated.clone();
    let first_ms = m.ttft_ns.unwrap_or(0.0) / 1e6;
    let step_ms = m.host_token_latency_ns.or(m.token_latency_ns).map_or(0.0, |l| l.p50_ns / 1e6);
    let replay = {
        let (shown, n) = (shown.clone(), tokens.len());
        Callback::from(move |_| {
            let shown = shown.clone();
            wasm_bindgen_futures::spawn_local(async move {
                shown.set(0);
                for i in 0..n {
                    let wait = if i == 0 { first_ms } else { step_ms };
                    js::sleep_ms(wait.round().max(1.0) as i32).await;
                    shown.set(i + 1);
                }
            });
        })
    };
    let id = format!("stream-{}-{}", p.record.kernel, p.record.backend);
    html! {
        <div class="stream" id={id}>
            <button class="replay" onclick={replay}>{ format!("Replay {} on {}", p.record.kernel, p.record.backend) }</button>
            <span class="muted">{ format!(" first token after {first_ms:.1} ms, then one every {step_ms:.1} ms") }</span>
            <div class="tokens">
                { for tokens.iter().take(*shown).map(|t| html! { <span class="token">{ format!("#{t}") }</span> }) }
            </div>
        </div>
    }
}

/// This page's records beside the latest native run on the companion server.
#[function_component(NativeComparison)]
fn native_comparison() -> Html {
    state::use_shared();
    let native = use_state(|| None::<Result<(String, Vec<Record>), String>>);
    let server = state::read(|s| s.env.as_ref().is_some_and(|e| e.server));
    if !server {
        return html! {};
    }
    let load = {
        let native = native.clone();
        Callback::from(move |_| {
            let native = native.clone();
            wasm_bindgen_futures::spawn_local(async move { native.set(Some(latest_native_run().await)) });
        })
    };
    let records = state::read(|s| s.records.clone());
    html! {
        <section class="panel" id="native">
            <h2>{ "Browser vs native" }</h2>
            <button onclick={load}>{ "Compare with the latest native run on the server" }</button>
            { match &*native {
                None => html! {},
                Some(Err(e)) => html! { <p class="error">{ e.clone() }</p> },
                Some(Ok((id, nat))) => comparison_table(id, &records, nat),
            } }
        </section>
    }
}

async fn latest_native_run() -> Result<(String, Vec<Record>), String> {
    let (_, list) = js::fetch_text("GET", "/api/v1/runs?limit=200", None).await?;
    let list: Vec<RunSummary> = serde_json::from_str(&list).map_err(|e| format!("GET /api/v1/runs: {e}"))?;
    let id = list
        .into_iter()
        .find(|r| r.source == "native" && r.records > 0)
        .map(|r| r.id)
        .ok_or("no native run is stored yet: run `accelbench run --native` or POST /api/v1/native/runs")?;
    let (_, body) = js::fetch_text("GET", &format!("/api/v1/runs/{id}"), None).await?;
    let run: RunDetail = serde_json::from_str(&body).map_err(|e| format!("GET /api/v1/runs/{id}: {e}"))?;
    Ok((id, run.records))
}

fn comparison_table(id: &str, ours: &[Record], native: &[Record]) -> Html {
    let median = |r: &Record| r.timing.as_ref().filter(|_| r.status == Status::Measured).map(|t| t.summary.median_ns);
    let rows: Vec<Html> = ours
        .iter()
        .filter_map(|r| {
            let m = median(r)?;
            let peers: Vec<(String, f64)> = native
                .iter()
                .filter(|n| n.kernel == r.kernel && n.case == r.case && n.size == r.size)
                .filter_map(|n| median(n).map(|nm| (n.backend.clone(), nm)))
                .collect();
            (!peers.is_empty()).then(|| html! {
                <tr>
                    <td>{ format!("{} {}", r.kernel, r.case) }</td><td>{ r.backend.clone() }</td><td class="num">{ fmt_ns(m) }</td>
                    <td>{ for peers.iter().map(|(b, nm)| html! { <div>{ format!("{b}: {} (browser/native {:.2}x)", fmt_ns(*nm), m / nm) }</div> }) }</td>
                </tr>
            })
        })
        .collect();
    html! {
        <>
        <p class="muted">{ format!("Native run {id}. Ratios above 1 mean the browser is slower. Different runs carry machine drift; `accelbench run` measures both in one go.") }</p>
        if rows.is_empty() { <p class="muted">{ "No kernel and size in common with that run." }</p> }
        else { <table class="results"><thead><tr><th>{ "kernel / case" }</th><th>{ "browser" }</th><th>{ "median" }</th><th>{ "native" }</th></tr></thead><tbody>{ for rows }</tbody></table> }
        </>
    }
}
