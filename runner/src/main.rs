//! `accelbench`: the native command line. Parses arguments, runs the subcommand, and maps the
//! outcome to the exit code: 0 ok, 1 a mismatch or regression, 2 an error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use runner::{Outcome, doctor, history, icd, model, models, native, predict, recommend, report, results, run, server};

#[derive(Parser, Debug)]
#[command(name = "accelbench", version, about = "ML compute kernels, measured in browsers and natively")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the kernel catalogue with each kernel's parameter sets and requirements
    Kernels {
        /// One JSON object per kernel instead of a table
        #[arg(long)]
        json: bool,
    },
    /// List the model presets (or a --config file) with parameters and memory per dtype and scale
    Models(models::ModelsArgs),
    /// Run whole models (presets or --config) on the native backends: TTFT, prefill and decode
    /// tokens/s, per-token latency and device memory, every output checked
    Model(model::ModelArgs),
    /// Run the catalogue on every native wgpu adapter and on the CPU reference
    Native(native::NativeArgs),
    /// Render result files as a table, JSON, CSV, Markdown, Bencher (BMF) or github-action-benchmark JSON
    Report(results::ReportArgs),
    /// The main job: the suite in headless Chromium and Firefox (WebDriver) and natively, with a
    /// browser-versus-native report (exit 1 on a mismatch)
    Run(Box<run::RunArgs>),
    /// What this machine can run (browsers, drivers, WebGPU, native adapters, backends) and the
    /// command that installs each missing piece
    Doctor(doctor::DoctorArgs),
    /// Serve the page and the JSON API, store runs, run the native side on request
    Serve(server::ServeArgs),
    /// Compare two runs: ratio of medians with its 99% interval over the runs' rounds and a
    /// verdict per kernel (exit 1 on a regression)
    Compare(results::CompareArgs),
    /// A kernel's or model's stored series per backend and machine, with its change points
    History(history::HistoryArgs),
    /// Rank the stored backends and machines for a kernel or model by latency, throughput or
    /// memory, ties and evidence named; `no data` where nothing was measured
    Recommend(recommend::RecommendArgs),
    /// Estimate an unmeasured kernel case or model on a backend from the stored runs: roofline
    /// against the measured peaks over a fitted efficiency curve, with its held-out error
    Predict(predict::PredictArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("ACCELBENCH_LOG").unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("warn,wgpu_hal=error,wgpu_hal::gles=off,wgpu_core=error")
        }))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let icd = match &cli.command {
        Command::Native(a) => a.icd.clone(),
        Command::Run(a) => a.icd.clone(),
        _ => None,
    };
    if let Some(icd) = icd {
        match icd::reexec(&icd) {
            Ok(Some(code)) => return code,
            Ok(None) => {}
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::from(2);
            }
        }
    }
    let result = match cli.command {
        Command::Kernels { json } => report::print_catalogue(json).map(|()| Outcome::Ok),
        Command::Models(args) => models::run(&args),
        Command::Model(args) => model::run(&args),
        Command::Native(args) => native::run(&args),
        Command::Report(args) => results::report(&args),
        Command::Compare(args) => results::compare(&args),
        Command::History(args) => history::run(&args),
        Command::Serve(args) => server::serve(&args),
        Command::Recommend(args) => recommend::run(&args),
        Command::Predict(args) => predict::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Doctor(args) => doctor::doctor(&args),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        // A closed stdout (`accelbench kernels --json | head`) is the reader's choice, not an
        // error: end quietly, as ripgrep does.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
