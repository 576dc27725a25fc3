//! `accelbench history`: the stored series of a kernel or model per backend and machine, with
//! the change points found in it; and the reading both it and `GET /api/v1/series` share.

use anyhow::Context as _;
use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use harness::history::{Metric, series};
use harness::schema::{Series, SeriesFilter};

use crate::Outcome;
use crate::server::store::{Store, StoreError};

#[derive(clap::Args, Debug, Clone)]
pub struct HistoryArgs {
    /// A kernel id or a model preset
    #[arg(long)]
    kernel: Option<String>,
    /// A case name, as in the records (e.g. `s256`, `m=64,n=8`)
    #[arg(long)]
    case: Option<String>,
    /// A backend, e.g. `native-wgpu-vulkan`, `chrome-webgpu`
    #[arg(long)]
    backend: Option<String>,
    /// A machine fingerprint or its prefix (as printed above each series)
    #[arg(long)]
    machine: Option<String>,
    /// Part of the adapter's name, e.g. `llvmpipe` (case-insensitive)
    #[arg(long)]
    adapter: Option<String>,
    /// `time` (median ns), `tokens-per-s` or `memory` (models)
    #[arg(long, default_value = "time")]
    metric: String,
    /// The newest this many runs
    #[arg(long, default_value_t = 200)]
    limit: i64,
    /// Database: an SQLite path or a `postgres://` URL (default: as `accelbench serve`)
    #[arg(long)]
    db: Option<String>,
    /// The series as JSON (what GET /api/v1/series returns)
    #[arg(long)]
    json: bool,
}

/// `--metric` / `metric=`, or the message naming the choices.
pub fn metric(m: Option<&str>) -> Result<Metric, String> {
    let m = m.unwrap_or("time");
    Metric::parse(m).ok_or_else(|| format!("unknown metric `{m}`; choose time, tokens-per-s or memory"))
}

/// The series matching `f` in `store`, machine prefix applied.
pub async fn read(store: &Store, f: &SeriesFilter, metric: Metric) -> Result<Vec<Series>, StoreError> {
    let rows = store.series_rows(f).await?;
    let mut out = series(&rows, metric);
    if let Some(m) = &f.machine {
        out.retain(|s| s.machine.starts_with(m.as_str()));
    }
    if let Some(a) = f.adapter.as_deref().map(str::to_lowercase) {
        out.retain(|s| s.adapter.to_lowercase().contains(&a));
    }
    Ok(out)
}

pub fn run(args: &HistoryArgs) -> anyhow::Result<Outcome> {
    let metric = metric(Some(&args.metric)).map_err(anyhow::Error::msg)?;
    let filter = SeriesFilter {
        kernel: args.kernel.clone(),
        case: args.case.clone(),
        backend: args.backend.clone(),
        machine: args.machine.clone(),
        adapter: args.adapter.clone(),
        metric: Some(args.metric.clone()),
        limit: Some(args.limit),
    };
    let db = args.db.clone().unwrap_or_else(crate::server::default_db);
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let all = rt.block_on(async {
        let store = Store::open(&db)
            .await
            .with_context(|| format!("opening the database {}", crate::server::store::redacted(&db)))?;
        let s = read(&store, &filter, metric).await;
        store.close().await;
        anyhow::Ok(s?)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(Outcome::Ok);
    }
    if all.is_empty() {
        eprintln!(
            "no stored runs match in {}; `accelbench native` and `accelbench run` store their runs there (see --db)",
            crate::server::store::redacted(&db)
        );
        return Ok(Outcome::Ok);
    }
    let value = |v: f64| metric.format(v);
    for s in &all {
        println!(
            "{} {} {} on {} ({}), machine {}: {} runs",
            s.kernel,
            s.case,
            s.dtype,
            s.backend,
            s.adapter,
            s.machine,
            s.points.len()
        );
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(["#", "stored", "commit", "run", "value", "99% interval", "rounds", "change"]);
        for (i, p) in s.points.iter().enumerate() {
            let change = s
                .changes
                .iter()
                .find(|c| c.index == i)
                .map_or(String::new(), |c| format!("{:.3}x (p = {:.3})", c.ratio, c.p_value));
            t.add_row([
                i.to_string(),
                p.created_at.clone(),
                p.commit.clone(),
                p.run_id.clone(),
                value(p.value),
                format!("{} – {}", value(p.low), value(p.high)),
                p.rounds.to_string(),
                change,
            ]);
        }
        println!("{t}");
        for c in &s.changes {
            println!(
                "change at run {} (commit {}): {} -> {} ({:.3}x)",
                c.run_id,
                c.commit,
                value(c.before),
                value(c.after),
                c.ratio
            );
        }
        println!();
    }
    Ok(Outcome::Ok)
}
