//! `accelbench report` and `accelbench compare`: reading result files (JSON Lines of schema v1
//! records), rendering them in the ecosystem's formats, and the regression verdict.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use harness::compare::{Comparison, Outcome, compare_runs};
use harness::format;
use harness::schema::{Record, parse_jsonl};

use crate::Outcome as Exit;

/// Opens a result file for appending (`--out`), creating it if needed.
pub fn open_append(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open --out {} for appending", path.display()))
}

/// Records as `native` and `model` produce them: each one JSON line on stdout (`--json`) or a
/// progress line on stderr, and appended to the `--out` file, before the next one starts.
#[derive(Debug)]
pub struct RecordStream {
    json: bool,
    file: Option<std::fs::File>,
    pub records: Vec<Record>,
}

impl RecordStream {
    pub fn new(json: bool, out: Option<&Path>) -> anyhow::Result<Self> {
        Ok(RecordStream { json, file: out.map(open_append).transpose()?, records: Vec::new() })
    }

    /// Writes `r` out (`brief`: what the progress line says about it) and keeps it.
    pub fn emit(&mut self, r: Record, brief: &str) -> anyhow::Result<()> {
        use std::io::Write as _;
        let line = serde_json::to_string(&r)?;
        if self.json {
            // `writeln!`, not `println!`: a closed stdout ends us quietly (main maps the broken pipe).
            let mut so = std::io::stdout().lock();
            writeln!(so, "{line}")?;
            so.flush()?;
        } else {
            eprintln!("  {:<18} {:<18} {:<24} {brief}", r.kernel, r.case, r.backend);
        }
        if let Some(f) = self.file.as_mut() {
            writeln!(f, "{line}").context("writing --out")?;
        }
        self.records.push(r);
        Ok(())
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Json,
    Csv,
    Markdown,
    /// Bencher Metric Format
    Bmf,
    /// github-action-benchmark `customSmallerIsBetter`
    GithubActionBenchmark,
    /// One self-contained HTML file: charts, tables, environments (nothing fetched)
    Html,
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Result files (JSON Lines, as written by `accelbench native --out`)
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareFormat {
    Table,
    Markdown,
    /// One JSON array of rows, as `GET /api/v1/compare`'s `matches`.
    Json,
}

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Base run (JSON Lines file)
    base: PathBuf,
    /// Candidate run (JSON Lines file)
    candidate: PathBuf,
    /// Relative change below which nothing is called faster or slower, e.g. `5%` or `0.05`
    #[arg(long, default_value = "5%", value_parser = parse_threshold)]
    threshold: f64,
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    format: CompareFormat,
}

pub fn parse_threshold(s: &str) -> Result<f64, String> {
    let (num, scale) = match s.strip_suffix('%') {
        Some(n) => (n, 0.01),
        None => (s, 1.0),
    };
    let v: f64 = num.trim().parse().map_err(|_| format!("`{s}` is not a threshold; write e.g. `5%` or `0.05`"))?;
    let v = v * scale;
    if !(v.is_finite() && (0.0..1.0).contains(&v)) {
        return Err(format!("threshold {s} must be between 0% and 100%"));
    }
    Ok(v)
}

pub fn read_records(path: &Path) -> anyhow::Result<Vec<Record>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let records = parse_jsonl(&text).with_context(|| {
        format!("{} is not a valid result file (expected JSON Lines of schema v1 records, as `accelbench native --out` writes)", path.display())
    })?;
    if records.is_empty() {
        bail!("{} holds no records; run `accelbench native --out {}` first", path.display(), path.display());
    }
    Ok(records)
}

pub fn report(args: &ReportArgs) -> anyhow::Result<Exit> {
    let mut records = Vec::new();
    for f in &args.files {
        records.extend(read_records(f)?);
    }
    match args.format {
        ReportFormat::Table => crate::report::print_table(&records),
        ReportFormat::Json => {
            for r in &records {
                println!("{}", serde_json::to_string(r)?);
            }
        }
        ReportFormat::Csv => print!("{}", format::csv(&records)),
        ReportFormat::Markdown => print!("{}", format::markdown(&records)),
        ReportFormat::Bmf => println!("{}", serde_json::to_string_pretty(&format::bmf(&records))?),
        ReportFormat::GithubActionBenchmark => {
            println!("{}", serde_json::to_string_pretty(&format::github_action_benchmark(&records))?)
        }
        ReportFormat::Html => print!("{}", html_report(&records)?),
    }
    Ok(Exit::Ok)
}

/// The HTML report, titled by the runs' commits and dates.
pub fn html_report(records: &[Record]) -> anyhow::Result<String> {
    let mut runs: Vec<String> = Vec::new();
    for r in records {
        let run = format!("{} {}", r.provenance.commit, r.provenance.date.get(..10).unwrap_or(&r.provenance.date));
        if !runs.contains(&run) {
            runs.push(run);
        }
    }
    let title = match runs.as_slice() {
        [one] => format!("accelbench report · {one}"),
        many => format!("accelbench report · {} runs", many.len()),
    };
    Ok(harness::html::report(records, &title)?)
}

pub fn print_comparison(cmp: &[Comparison], threshold: f64, fmt: CompareFormat) {
    match fmt {
        CompareFormat::Markdown => return print!("{}", format::comparison_markdown(cmp, threshold)),
        CompareFormat::Json => {
            let rows: Vec<_> = cmp.iter().cloned().map(Comparison::into_row).collect();
            return println!("{}", serde_json::to_string_pretty(&rows).expect("rows serialise"));
        }
        CompareFormat::Table => {}
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "kernel",
        "case",
        "backend",
        "adapter",
        "base",
        "candidate",
        "ratio",
        "99% CI",
        "runs, spread",
        "verdict",
    ]);
    for c in cmp {
        let k = &c.key;
        let cells = match &c.outcome {
            Outcome::Compared { base_median_ns, cand_median_ns, ratio, verdict, spread } => [
                format::fmt_ns(*base_median_ns),
                format::fmt_ns(*cand_median_ns),
                format!("{:.3}", ratio.ratio),
                format!("{:.3} – {:.3}", ratio.low, ratio.high),
                spread.describe(),
                verdict.label().to_owned(),
            ],
            Outcome::NotComparable(_) => Default::default(),
            Outcome::OnlyInBase => Default::default(),
            Outcome::OnlyInCandidate => Default::default(),
        };
        let mut row = vec![k.kernel.clone(), k.case.clone(), k.backend.clone(), k.adapter.clone()];
        row.extend(cells);
        match &c.outcome {
            Outcome::NotComparable(why) => row[9] = format!("not comparable: {why}"),
            Outcome::OnlyInBase => row[9] = "only in base".into(),
            Outcome::OnlyInCandidate => row[9] = "only in candidate".into(),
            Outcome::Compared { .. } => {}
        }
        t.add_row(row);
    }
    println!("{}", format::verdict_rule(threshold));
    println!("{t}");
    if cmp.iter().any(Comparison::needs_more_runs) {
        println!("inconclusive: {}", harness::compare::NEEDS_MORE_RUNS);
    }
}

/// A baseline named on the command line: a JSON Lines file if one is there, else a stored run id.
pub fn baseline(name: &str, db: Option<&str>) -> anyhow::Result<Vec<Record>> {
    let path = Path::new(name);
    if path.exists() || name.ends_with(".jsonl") || name.contains('/') {
        return read_records(path);
    }
    let db = db.map_or_else(crate::server::default_db, str::to_owned);
    let found = with_store(&db, |store| {
        let name = name.to_owned();
        async move { store.get_run(&name).await }
    })?;
    match found {
        Some((_, records)) if !records.is_empty() => Ok(records),
        Some(_) => bail!("stored run {name} in {} holds no records", crate::server::store::redacted(&db)),
        None => bail!(
            "no file {name} and no stored run {name} in {}; pass a JSON Lines file, a run id from              `GET /api/v1/runs`, or `latest`",
            crate::server::store::redacted(&db)
        ),
    }
}

/// `--baseline latest`: the newest stored run on this machine with this run's measurements.
pub fn latest_baseline(db: &str, records: &[Record], this_run: &str) -> anyhow::Result<Vec<Record>> {
    let this: Vec<Record> = records.to_vec();
    let run = this_run.to_owned();
    let id = with_store(db, |store| async move { store.latest_matching(&this, &run).await })?;
    match id {
        Some(id) => {
            baseline(&id, Some(db)).inspect(|_| eprintln!("baseline: stored run {id} (latest on this machine)"))
        }
        None => {
            bail!(
                "no stored run in {} measured this on this machine yet: run once without --baseline to store one",
                crate::server::store::redacted(db)
            )
        }
    }
}

/// Stores a finished run (one transaction: whole or not at all).
pub fn store(db: &str, id: &str, source: &str, records: &[Record]) -> anyhow::Result<()> {
    let (id, source, records) = (id.to_owned(), source.to_owned(), records.to_vec());
    let inserted = with_store(db, |store| async move {
        store.insert_run(&id, &source, harness::schema::RunStatus::Done, &records).await
    })?;
    if !inserted {
        bail!("a run with this id is already stored");
    }
    Ok(())
}

/// Opens the database, runs one operation on it, and closes it.
fn with_store<T, F, Fut>(db: &str, op: F) -> anyhow::Result<T>
where
    F: FnOnce(crate::server::store::Store) -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::server::store::StoreError>>,
{
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let store = crate::server::store::Store::open(db)
            .await
            .with_context(|| format!("opening the database {}", crate::server::store::redacted(db)))?;
        let out = op(store.clone()).await;
        store.close().await;
        Ok(out?)
    })
}

pub fn compare(args: &CompareArgs) -> anyhow::Result<Exit> {
    let base = read_records(&args.base)?;
    let cand = read_records(&args.candidate)?;
    let cmp = compare_runs(&base, &cand, args.threshold);
    print_comparison(&cmp, args.threshold, args.format);
    let slower = cmp.iter().filter(|c| c.is_regression()).count();
    if slower > 0 {
        eprintln!("{slower} regression(s) beyond {:.1}%", args.threshold * 100.0);
        return Ok(Exit::Failed);
    }
    Ok(Exit::Ok)
}
