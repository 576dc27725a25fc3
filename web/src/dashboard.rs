//! The dashboard `accelbench serve` offers at `/dashboard`: stored series over runs (one chart
//! per kernel or model, case, dtype and metric, a line per backend and machine, so browser and
//! native sit side by side over time) with interval bands and change points, drawn by
//! harness::charts as in the HTML report; filters by kernel, case, backend (the browser is
//! its prefix), machine, adapter and metric; and a run-vs-run comparison through `GET /api/v1/compare`. Reads the server's API;
//! measures nothing.

use harness::charts::{Figure, Palette};
use harness::format::fmt_ns;
use harness::schema::{CompareResponse, RunSummary, Series};
use wasm_bindgen::JsCast as _;
use yew::prelude::*;

use crate::js;

/// The filter fields as typed, sent as the query of `GET /api/v1/series`.
#[derive(Clone, Debug, Default, PartialEq)]
struct Filter {
    kernel: String,
    case: String,
    backend: String,
    machine: String,
    adapter: String,
    metric: String,
}

impl Filter {
    fn query(&self) -> String {
        let mut q = vec!["limit=200".to_owned()];
        for (k, v) in [
            ("kernel", &self.kernel),
            ("case", &self.case),
            ("backend", &self.backend),
            ("machine", &self.machine),
            ("adapter", &self.adapter),
            ("metric", &self.metric),
        ] {
            let v = v.trim();
            if !v.is_empty() {
                q.push(format!("{k}={}", String::from(js_sys::encode_uri_component(v))));
            }
        }
        q.join("&")
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, String> {
    let (status, body) = js::fetch_text("GET", url, None).await?;
    if status != 200 {
        // The API answers errors as {"error": "..."}; show its words.
        let why = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or(body);
        return Err(format!("GET {url}: {status}: {why}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("GET {url}: {e}"))
}

fn input_value(e: &Event) -> String {
    e.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()).map_or_else(
        || {
            e.target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok())
                .map(|s| s.value())
                .unwrap_or_default()
        },
        |i| i.value(),
    )
}

fn figure_html(f: &Figure) -> Html {
    html! {
        <figure class="series-chart" id={f.id.clone()}>
            <figcaption>{ f.title.clone() }</figcaption>
            // plotters' own SVG, its text escaped there.
            { Html::from_html_unchecked(AttrValue::from(f.svg.clone())) }
        </figure>
    }
}

#[function_component(Dashboard)]
pub fn dashboard() -> Html {
    let typed = use_state(Filter::default);
    let applied = use_state(Filter::default);
    let series = use_state(|| None::<Result<Vec<Series>, String>>);
    let runs = use_state(|| None::<Result<Vec<RunSummary>, String>>);
    let base = use_state(String::new);
    let candidate = use_state(String::new);
    let comparison = use_state(|| None::<Result<CompareResponse, String>>);

    {
        let runs = runs.clone();
        let (base, candidate) = (base.clone(), candidate.clone());
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let list = get_json::<Vec<RunSummary>>("/api/v1/runs?limit=200").await;
                // Newest first: compare the previous run (base) with the newest (candidate).
                if let Ok(l) = &list {
                    if let Some(r) = l.first() {
                        candidate.set(r.id.clone());
                    }
                    if let Some(r) = l.get(1) {
                        base.set(r.id.clone());
                    }
                }
                runs.set(Some(list));
            });
        });
    }
    {
        let series = series.clone();
        use_effect_with((*applied).clone(), move |f| {
            let url = format!("/api/v1/series?{}", f.query());
            series.set(None);
            wasm_bindgen_futures::spawn_local(async move { series.set(Some(get_json::<Vec<Series>>(&url).await)) });
        });
    }

    let field = |name: &'static str, label: &'static str, get: fn(&Filter) -> &String, set: fn(&mut Filter, String)| {
        let typed = typed.clone();
        let value = get(&typed).clone();
        let onchange = Callback::from(move |e: Event| {
            let mut f = (*typed).clone();
            set(&mut f, input_value(&e));
            typed.set(f);
        });
        html! {
            <label>{ label }
                <input id={format!("f-{name}")} type="text" {value} {onchange} list={format!("l-{name}")} />
            </label>
        }
    };
    let apply = {
        let (typed, applied) = (typed.clone(), applied.clone());
        Callback::from(move |_: MouseEvent| applied.set((*typed).clone()))
    };
    let metric_change = {
        let typed = typed.clone();
        Callback::from(move |e: Event| {
            let mut f = (*typed).clone();
            f.metric = input_value(&e);
            typed.set(f);
        })
    };

    // Choices for the filter boxes: what the shown series hold.
    let loaded: Vec<Series> = match &*series {
        Some(Ok(s)) => s.clone(),
        _ => Vec::new(),
    };
    let options = |pick: fn(&Series) -> &String| {
        let mut v: Vec<String> = loaded.iter().map(|s| pick(s).clone()).collect();
        v.sort();
        v.dedup();
        v
    };
    let datalist = |name: &str, values: Vec<String>| {
        html! { <datalist id={format!("l-{name}")}>{ for values.into_iter().map(|v| html! { <option value={v} /> }) }</datalist> }
    };

    let charts = match &*series {
        None => html! { <p class="status" id="series-loading">{ "Loading series…" }</p> },
        Some(Err(e)) => html! { <p class="error" id="series-error">{ e.clone() }</p> },
        Some(Ok(s)) if s.is_empty() => html! {
            <p class="muted" id="series-empty">{ "No stored series match. Runs are stored by `accelbench run`, `accelbench native` and POST /api/v1/runs." }</p>
        },
        Some(Ok(s)) => match harness::charts::series(s, &mut Palette::default()) {
            Ok(figs) => html! {
                <>
                <p class="muted" id="series-count">{ format!("{} series in {} charts", s.len(), figs.len()) }</p>
                { for figs.iter().map(figure_html) }
                { change_table(s) }
                </>
            },
            Err(e) => html! { <p class="error">{ e.to_string() }</p> },
        },
    };

    let run_options = |selected: &str| -> Html {
        match &*runs {
            Some(Ok(list)) => html! {
                { for list.iter().map(|r| {
                    let text = format!("{} · {} · {} · {} records", r.id, r.created_at.get(..19).unwrap_or(&r.created_at), r.commit.clone().unwrap_or_default(), r.records);
                    html! { <option value={r.id.clone()} selected={selected == r.id}>{ text }</option> }
                }) }
            },
            _ => html! {},
        }
    };
    let pick = |state: UseStateHandle<String>| Callback::from(move |e: Event| state.set(input_value(&e)));
    let compare = {
        let (base, candidate, comparison) = (base.clone(), candidate.clone(), comparison.clone());
        Callback::from(move |_: MouseEvent| {
            let url = format!(
                "/api/v1/compare?base={}&candidate={}",
                String::from(js_sys::encode_uri_component(&base)),
                String::from(js_sys::encode_uri_component(&candidate))
            );
            let comparison = comparison.clone();
            wasm_bindgen_futures::spawn_local(async move { comparison.set(Some(get_json(&url).await)) });
        })
    };

    html! {
        <main id="dashboard">
            <header>
                <h1>{ "accelbench dashboard" }</h1>
                <p class="muted">{ "Stored runs over time: each point a run's median with its interval, red dashed lines where a series changed (E-Divisive Means over the runs' uncertainty). " }
                    <a href="/">{ "The benchmark page" }</a></p>
            </header>
            <section class="panel" id="filters">
                <h2>{ "Series" }</h2>
                { field("kernel", "kernel or model ", |f| &f.kernel, |f, v| f.kernel = v) }
                { field("case", " case ", |f| &f.case, |f, v| f.case = v) }
                { field("backend", " backend ", |f| &f.backend, |f, v| f.backend = v) }
                { field("machine", " machine ", |f| &f.machine, |f, v| f.machine = v) }
                { field("adapter", " adapter ", |f| &f.adapter, |f, v| f.adapter = v) }
                <label>{ " metric " }
                    <select id="f-metric" onchange={metric_change}>
                        { for [("", "time"), ("tokens-per-s", "tokens/s"), ("memory", "memory")].iter().map(|(v, t)| html! {
                            <option value={*v} selected={typed.metric == *v}>{ *t }</option>
                        }) }
                    </select>
                </label>
                <button id="apply" onclick={apply}>{ "Show" }</button>
                { datalist("kernel", options(|s| &s.kernel)) }
                { datalist("case", options(|s| &s.case)) }
                { datalist("backend", options(|s| &s.backend)) }
                { datalist("machine", options(|s| &s.machine)) }
                { datalist("adapter", options(|s| &s.adapter)) }
                <div id="series-charts">{ charts }</div>
            </section>
            <section class="panel" id="run-compare">
                <h2>{ "Run against run" }</h2>
                { match &*runs {
                    None => html! { <p class="status">{ "Loading runs…" }</p> },
                    Some(Err(e)) => html! { <p class="error">{ e.clone() }</p> },
                    Some(Ok(l)) if l.len() < 2 => html! { <p class="muted">{ "Two stored runs are needed to compare." }</p> },
                    Some(Ok(_)) => html! {
                        <>
                        <label>{ "base " }<select id="base" onchange={pick(base.clone())}>{ run_options(&base) }</select></label>
                        <label>{ " candidate " }<select id="candidate" onchange={pick(candidate.clone())}>{ run_options(&candidate) }</select></label>
                        <button id="compare" onclick={compare}>{ "Compare" }</button>
                        </>
                    },
                } }
                { match &*comparison {
                    None => html! {},
                    Some(Err(e)) => html! { <p class="error" id="compare-error">{ e.clone() }</p> },
                    Some(Ok(c)) => compare_table(c),
                } }
            </section>
        </main>
    }
}

fn change_table(series: &[Series]) -> Html {
    let rows: Vec<Html> = series
        .iter()
        .flat_map(|s| s.changes.iter().map(move |c| (s, c)))
        .map(|(s, c)| {
            let v = |x: f64| if s.metric == "time" { fmt_ns(x) } else { format!("{x:.1}") };
            html! {
                <tr>
                    <td>{ format!("{} {} {}", s.kernel, s.case, s.dtype) }</td><td>{ s.backend.clone() }</td>
                    <td>{ s.machine.chars().take(12).collect::<String>() }</td><td>{ c.commit.clone() }</td><td>{ c.run_id.clone() }</td>
                    <td class="num">{ v(c.before) }</td><td class="num">{ v(c.after) }</td>
                    <td class="num">{ format!("{:.2}x", c.ratio) }</td><td class="num">{ format!("{:.3}", c.p_value) }</td>
                </tr>
            }
        })
        .collect();
    if rows.is_empty() {
        return html! { <p class="muted" id="no-changes">{ "No change points in these series." }</p> };
    }
    html! {
        <table class="results" id="changes"><thead><tr>
            <th>{ "series" }</th><th>{ "backend" }</th><th>{ "machine" }</th><th>{ "commit" }</th><th>{ "run" }</th>
            <th>{ "before" }</th><th>{ "after" }</th><th>{ "after / before" }</th><th>{ "p" }</th>
        </tr></thead><tbody>{ for rows }</tbody></table>
    }
}

fn compare_table(c: &CompareResponse) -> Html {
    let ns = |v: Option<f64>| v.map_or(String::new(), fmt_ns);
    html! {
        <>
        <p class="muted">{ format!("{} (base) against {} (candidate), threshold {:.0}%: ratios are candidate over base, drift-corrected, with their 99% interval over runs.", c.base, c.candidate, 100.0 * c.threshold) }</p>
        <table class="results" id="comparison"><thead><tr>
            <th>{ "kernel" }</th><th>{ "case" }</th><th>{ "dtype" }</th><th>{ "backend" }</th><th>{ "base" }</th><th>{ "candidate" }</th>
            <th>{ "ratio" }</th><th>{ "interval" }</th><th>{ "verdict" }</th><th>{ "why" }</th>
        </tr></thead><tbody>
            { for c.matches.iter().map(|m| html! {
                <tr class={format!("verdict-{}", m.verdict)}>
                    <td>{ m.kernel.clone() }</td><td>{ m.case.clone() }</td><td>{ m.dtype.clone() }</td><td>{ m.backend.clone() }</td>
                    <td class="num">{ ns(m.base_median_ns) }</td><td class="num">{ ns(m.candidate_median_ns) }</td>
                    <td class="num">{ m.ratio.map_or(String::new(), |r| format!("{r:.3}")) }</td>
                    <td class="num">{ match (m.ratio_ci_low, m.ratio_ci_high) { (Some(a), Some(b)) => format!("{a:.3} – {b:.3}"), _ => String::new() } }</td>
                    <td class="verdict">{ m.verdict.clone() }</td><td>{ m.reason.clone().unwrap_or_default() }</td>
                </tr>
            }) }
        </tbody></table>
        </>
    }
}
