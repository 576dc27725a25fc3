//! `accelbench predict`: an unmeasured kernel case or model on a backend, estimated from the
//! stored runs (harness::predict: roofline against the measured peaks over a fitted efficiency
//! curve), with its held-out error and evidence, or the reason it abstains.

use anyhow::{Context as _, bail};
use harness::catalogue::Size;
use harness::format::fmt_ns;
use harness::predict::{Target, predict};
use harness::schema::{Mode, Prediction};

use crate::Outcome;
use crate::server::store::Store;

#[derive(clap::Args, Debug, Clone)]
pub struct PredictArgs {
    /// A kernel case, e.g. `softmax:rows=64,cols=3000` (keys left out take the catalogue's)
    #[arg(long, conflicts_with = "model", required_unless_present = "model")]
    case: Option<String>,
    /// A model preset, e.g. `qwen2.5-0.5b` (at the --quick or full scale)
    #[arg(long)]
    model: Option<String>,
    /// The backend, as in the records, e.g. `native-cpu`, `native-wgpu-vulkan`, `chrome-webgpu`
    #[arg(long)]
    backend: String,
    /// A machine fingerprint or its prefix (as `accelbench history` prints it); needed when the
    /// backend ran on several machines
    #[arg(long)]
    machine: Option<String>,
    /// Quick scale for the model and for the case's omitted keys
    #[arg(long)]
    quick: bool,
    /// Database: an SQLite path or a `postgres://` URL (default: as `accelbench serve`)
    #[arg(long)]
    db: Option<String>,
    /// Read the newest this many runs
    #[arg(long, default_value_t = 500)]
    limit: i64,
    /// The prediction as JSON
    #[arg(long)]
    json: bool,
}

fn target(args: &PredictArgs) -> anyhow::Result<Target> {
    let size = if args.quick { Size::Quick } else { Size::Full };
    match (&args.case, &args.model) {
        (Some(spec), _) => {
            let c = harness::cases::parse_case(spec, size)?;
            Ok(Target {
                subject: c.kernel.id.to_owned(),
                case: c.params.case.clone(),
                family: c.kernel.family.name().to_owned(),
                dtype: c.kernel.dtype.name().to_owned(),
                mode: c.kernel.imp.mode(),
                params: c.params.to_map(),
                work: c.kernel.imp.work(&c.params),
                backend: args.backend.clone(),
            })
        }
        (None, Some(id)) => {
            let scale = if args.quick { harness::schema::Size::Quick } else { harness::schema::Size::Full };
            let chosen = harness::model::select(std::slice::from_ref(id), scale)
                .with_context(|| "see `accelbench models` for the presets")?;
            let chosen = chosen.first().context("no such preset; see `accelbench models`")?;
            let m = harness::model::run::ModelCase::new(chosen, scale, None, None, harness::model::ModelPrecision::F32);
            let g = m.graph.as_ref().map_err(|e| anyhow::anyhow!("{id} cannot be built at this scale: {e}"))?;
            Ok(Target {
                subject: id.clone(),
                case: m.case(),
                family: "model".into(),
                dtype: "f32".into(),
                mode: Mode::Inference,
                params: Default::default(),
                work: g.work(),
                backend: args.backend.clone(),
            })
        }
        (None, None) => bail!("pass --case KERNEL:key=value,... or --model PRESET"),
    }
}

pub fn run(args: &PredictArgs) -> anyhow::Result<Outcome> {
    let t = target(args)?;
    let db = args.db.clone().unwrap_or_else(crate::server::default_db);
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let stored = rt.block_on(async {
        let store = Store::open(&db).await.with_context(|| {
            format!("opening the database {} (pass --db PATH to use another)", crate::server::store::redacted(&db))
        })?;
        // The family's records and the peaks'; the store selects by kernel, so all of them.
        let rows = store.records_of(None, args.limit).await;
        store.close().await;
        anyhow::Ok(rows?)
    })?;
    let wanted: Vec<_> =
        stored.into_iter().filter(|s| s.record.family == t.family || s.record.family == "peak").collect();
    let p = predict(&t, &wanted, args.machine.as_deref());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&p)?);
    } else {
        print(&p);
    }
    Ok(Outcome::Ok)
}

fn print(p: &Prediction) {
    let head = format!("{} {} {} on {}", p.subject, p.case, p.dtype, p.backend);
    if let Some(why) = &p.abstained {
        println!("{head}: no prediction: {why}");
        return;
    }
    let ns = |v: Option<f64>| v.map_or("-".to_owned(), fmt_ns);
    println!("{head}: predicted {} (held-out range {} – {})", ns(p.predicted_ns), ns(p.low_ns), ns(p.high_ns));
    println!(
        "  roofline {} ({}-bound at {} GB/s, {} GFLOP/s) at a fitted {:.1}% of it",
        ns(p.roofline_ns),
        p.bound.as_deref().unwrap_or("-"),
        p.peak_gbps.map_or("-".to_owned(), |v| format!("{v:.1}")),
        p.peak_gflops.map_or("-".to_owned(), |v| format!("{v:.1}")),
        100.0 * p.efficiency.unwrap_or(f64::NAN)
    );
    println!(
        "  fitted on {} measured cases; each held out in turn: median absolute error {:.1}%",
        p.held_out,
        100.0 * p.held_out_mdape.unwrap_or(f64::NAN)
    );
    if let Some(m) = p.measured_ns {
        println!("  measured (held out of the fit): {}", fmt_ns(m));
    }
    println!("  machine {} · evidence: runs {}", p.machine.as_deref().unwrap_or("-"), p.evidence.join(", "));
}
