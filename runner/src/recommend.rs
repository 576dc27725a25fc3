//! `accelbench recommend`: which backend and machine to use for a kernel or model, ranked from
//! the stored runs by the goal's figure with its interval, ties and evidence named, and the
//! targets that never measured it listed as `no data`.

use anyhow::{Context as _, bail};
use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use harness::history::{Metric, series};
use harness::recommend::{Goal, recommend};
use harness::schema::Recommendation;

use crate::Outcome;
use crate::server::store::Store;

#[derive(clap::Args, Debug, Clone)]
pub struct RecommendArgs {
    /// A model preset, e.g. `gpt2`
    #[arg(long, conflicts_with = "kernel", required_unless_present = "kernel")]
    model: Option<String>,
    /// A kernel id, e.g. `matmul-f32`
    #[arg(long)]
    kernel: Option<String>,
    /// `latency`, `throughput` (tokens/s for models) or `memory` (models)
    #[arg(long = "for", default_value = "latency")]
    goal: String,
    /// Database: an SQLite path or a `postgres://` URL (default: as `accelbench serve`)
    #[arg(long)]
    db: Option<String>,
    /// Read the newest this many runs
    #[arg(long, default_value_t = 200)]
    limit: i64,
    /// The recommendation as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(args: &RecommendArgs) -> anyhow::Result<Outcome> {
    let goal = Goal::parse(&args.goal)
        .with_context(|| format!("unknown goal `--for {}`; choose latency, throughput or memory", args.goal))?;
    let (subject, model) = match (&args.model, &args.kernel) {
        (Some(m), _) => {
            harness::model::preset(m).with_context(|| "see `accelbench models` for the presets")?;
            (m.clone(), true)
        }
        (None, Some(k)) => {
            if harness::cases::kernel_by_id(k).is_none() {
                bail!("unknown kernel `{k}`; `accelbench kernels` lists them");
            }
            (k.clone(), false)
        }
        (None, None) => bail!("pass --kernel ID or --model PRESET"),
    };
    let metric = goal.metric(model).map_err(anyhow::Error::msg)?;
    let db = args.db.clone().unwrap_or_else(crate::server::default_db);
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let (rows, known) = rt.block_on(async {
        let store = Store::open(&db).await.with_context(|| {
            format!("opening the database {} (pass --db PATH to use another)", crate::server::store::redacted(&db))
        })?;
        let rows = store.records_of(Some(&subject), args.limit).await;
        let known = store.records_of(None, args.limit.min(50)).await;
        store.close().await;
        anyhow::Ok((rows?, known?))
    })?;
    let measured: Vec<_> =
        rows.iter().filter(|s| s.record.status == harness::schema::Status::Measured).cloned().collect();
    let all = series(&measured, metric);
    let rec = recommend(&subject, goal, metric, &all, &rows, &known);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rec)?);
    } else {
        print(&rec, metric, &db);
    }
    Ok(Outcome::Ok)
}

fn print(rec: &Recommendation, metric: Metric, db: &str) {
    let value = |v: f64| metric.format(v);
    if rec.cases.is_empty() {
        println!(
            "{} for {}: no data in {}; nothing measured it, so nothing is ranked",
            rec.subject,
            rec.goal,
            crate::server::store::redacted(db)
        );
    }
    for c in &rec.cases {
        println!(
            "{} {} {}, for {} ({}; equal ranks are ties: their 99% intervals overlap)",
            rec.subject,
            c.case,
            c.dtype,
            rec.goal,
            if rec.higher_is_better { "higher is better" } else { "lower is better" }
        );
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(["rank", "backend", "adapter", "machine", "value", "99% interval", "evidence", "runs"]);
        for r in &c.ranking {
            let tied = c.ranking.iter().filter(|o| o.rank == r.rank).count() > 1;
            t.add_row([
                if tied { format!("{} (tie)", r.rank) } else { r.rank.to_string() },
                r.backend.clone(),
                r.adapter.clone(),
                r.machine.clone(),
                value(r.value),
                format!("{} – {}", value(r.low), value(r.high)),
                format!("run {} (commit {}, {})", r.run_id, r.commit, r.created_at),
                r.runs.to_string(),
            ]);
        }
        println!("{t}\n");
    }
    if !rec.no_data.is_empty() {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(["backend", "adapter", "machine", "case", "why not ranked"]);
        for n in &rec.no_data {
            t.add_row([&n.backend, &n.adapter, &n.machine, &n.case, &n.reason]);
        }
        println!("Not ranked (nothing is extrapolated)\n{t}");
    }
}
