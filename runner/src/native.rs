//! `accelbench native`: runs the selected kernels on every native wgpu adapter and on the CPU
//! reference (backend `native-reference`), checking every GPU output against the reference on
//! fresh random inputs before timing it.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use harness::catalogue::{self, Kernel, Params, Size};
use harness::env::HostFacts;
use harness::gpu::{self, GpuDevice, RunOptions};
use harness::kernels::Inputs;
use harness::measure::{Sampler, SamplingConfig};
use harness::schema::{ColdTiming, Record, SCHEMA_VERSION, ShaderRef, Status, Throughput, TimerInfo, Timing};
use web_time::Instant;

use crate::{Outcome, facts, report};

#[derive(clap::Args, Debug)]
pub struct NativeArgs {
    /// Small parameter sets (seconds on CPU adapters); the default is `full`
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// Realistic parameter sets for real GPUs (the default)
    #[arg(long)]
    full: bool,
    /// Kernel ids or family names, comma-separated (see `accelbench kernels`)
    #[arg(long, value_delimiter = ',')]
    kernels: Vec<String>,
    /// Backends to run: `wgpu`, `reference` (comma-separated)
    #[arg(long, value_delimiter = ',', default_values_t = vec!["wgpu".to_owned(), "reference".to_owned()])]
    backends: Vec<String>,
    /// Only wgpu adapters whose name or backend contains this (case-insensitive), e.g. `vulkan`
    #[arg(long)]
    adapter: Option<String>,
    /// Print one JSON record per line on stdout instead of the table
    #[arg(long)]
    json: bool,
    /// Also append every record as JSON Lines to this file, as it is produced
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed of the random inputs
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Time with host fences even where the adapter has timestamp queries
    #[arg(long)]
    no_timestamps: bool,
    /// Per kernel, per backend sampling budget in seconds (default: 0.4 quick, 5 full)
    #[arg(long)]
    budget: Option<f64>,
    /// Compare this run against a base run (JSON Lines file) at the end; exit 1 on a regression
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Threshold for --baseline, e.g. `5%`
    #[arg(long, default_value = "5%", value_parser = crate::results::parse_threshold)]
    threshold: f64,
}

const KNOWN_BACKENDS: [&str; 2] = ["wgpu", "reference"];

pub fn run(args: &NativeArgs) -> anyhow::Result<Outcome> {
    for b in &args.backends {
        if !KNOWN_BACKENDS.contains(&b.as_str()) {
            bail!("unknown backend `{b}`; choose from: {}", KNOWN_BACKENDS.join(", "));
        }
    }
    let kernels =
        catalogue::select(&args.kernels).context("choose kernels with --kernels (see `accelbench kernels`)")?;
    let size = if args.quick { Size::Quick } else { Size::Full };
    let mut sampling = if args.quick { SamplingConfig::quick() } else { SamplingConfig::full() };
    if let Some(b) = args.budget {
        if !(b.is_finite() && b > 0.0) {
            bail!("--budget must be a positive number of seconds, got {b}");
        }
        sampling.time_budget_ns = b * 1e9;
    }
    let mut out_file = match &args.out {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("cannot open --out {} for appending", p.display()))?,
        ),
        None => None,
    };

    // Read the baseline before spending minutes measuring, so a bad path fails at once.
    let baseline = match &args.baseline {
        Some(p) => Some(crate::results::read_records(p)?),
        None => None,
    };
    let facts = facts::host_facts();
    let devices =
        if args.backends.iter().any(|b| b == "wgpu") { open_devices(args.adapter.as_deref())? } else { vec![] };

    let mut records = Vec::new();
    let mut emit = |r: Record| -> anyhow::Result<()> {
        let line = serde_json::to_string(&r)?;
        if args.json {
            let mut so = std::io::stdout().lock();
            writeln!(so, "{line}")?;
            so.flush()?;
        } else {
            eprintln!("  {:<18} {:<18} {:<24} {}", r.kernel, r.case, r.backend, report::status_brief(&r));
        }
        if let Some(f) = out_file.as_mut() {
            writeln!(f, "{line}").context("writing --out")?;
        }
        records.push(r);
        Ok(())
    };

    for kernel in kernels {
        for params in kernel.params(size) {
            let inputs = match kernel.imp.inputs(params, args.seed) {
                Ok(i) => i,
                Err(e) => bail!("catalogue entry {} / {} has invalid parameters: {e}", kernel.id, params.case),
            };
            let t0 = Instant::now();
            let expected = kernel.imp.reference(params, &inputs);
            let reference_cold_ns = t0.elapsed().as_secs_f64() * 1e9;
            for (label, dev) in &devices {
                let opts = RunOptions {
                    backend: label.clone(),
                    size,
                    seed: args.seed,
                    sampling: sampling.clone(),
                    use_timestamps: !args.no_timestamps,
                    host_resolution_ns: 1000.0,
                    facts: facts.clone(),
                };
                emit(pollster::block_on(gpu::run_kernel(dev, kernel, params, &inputs, &expected, &opts)))?;
            }
            if args.backends.iter().any(|b| b == "reference") {
                emit(time_reference(kernel, params, &inputs, size, args.seed, &sampling, &facts, reference_cold_ns))?;
            }
        }
    }

    if !args.json {
        report::print_table(&records);
    }
    let mismatches = records.iter().filter(|r| matches!(r.status, Status::Mismatch { .. })).count();
    if mismatches > 0 {
        eprintln!("{mismatches} mismatch(es): outputs disagreed with the CPU reference");
    }
    let mut regressions = 0;
    if let Some(base) = baseline {
        let cmp = harness::compare::compare_runs(&base, &records, args.threshold);
        crate::results::print_comparison(&cmp, args.threshold, crate::results::CompareFormat::Table);
        regressions = cmp.iter().filter(|c| c.is_regression()).count();
    }
    Ok(if mismatches + regressions > 0 { Outcome::Failed } else { Outcome::Ok })
}

/// Opens every native adapter, labelled `native-wgpu-<backend>`.
fn open_devices(filter: Option<&str>) -> anyhow::Result<Vec<(String, GpuDevice)>> {
    let adapters = pollster::block_on(gpu::native_adapters());
    let mut out = Vec::new();
    for a in adapters {
        let rep = gpu::adapter_report(&a);
        if let Some(f) = filter {
            let f = f.to_lowercase();
            if !rep.name.to_lowercase().contains(&f) && !rep.backend.contains(&f) {
                continue;
            }
        }
        match pollster::block_on(GpuDevice::open(&a)) {
            Ok(d) => out.push((format!("native-wgpu-{}", rep.backend), d)),
            Err(e) => tracing::warn!("skipping adapter {}: {e}", rep.name),
        }
    }
    if out.is_empty() {
        eprintln!(
            "warning: no native wgpu adapter{}; on Debian, `apt-get install mesa-vulkan-drivers` gives lavapipe (Vulkan on the CPU)",
            filter.map_or(String::new(), |f| format!(" matching `{f}`"))
        );
    }
    Ok(out)
}

/// Times the CPU reference itself (backend `native-reference`) with the host clock.
#[allow(clippy::too_many_arguments)]
fn time_reference(
    kernel: &Kernel,
    params: &Params,
    inputs: &Inputs,
    size: Size,
    seed: u64,
    sampling: &SamplingConfig,
    facts: &HostFacts,
    cold_ns: f64,
) -> Record {
    let mut sampler = Sampler::new(sampling.clone());
    let stopped_by = loop {
        let t0 = Instant::now();
        std::hint::black_box(kernel.imp.reference(params, std::hint::black_box(inputs)));
        let ns = t0.elapsed().as_secs_f64() * 1e9;
        sampler.push(ns, ns);
        if let Some(r) = sampler.stop_reason() {
            break r;
        }
    };
    let work = kernel.imp.work(params);
    let summary = sampler.summary().expect("at least two samples before stopping");
    Record {
        schema_version: SCHEMA_VERSION,
        kernel: kernel.id.to_owned(),
        family: kernel.family.name().to_owned(),
        case: params.case.to_owned(),
        params: params.to_map(),
        size: size.name().to_owned(),
        dtype: kernel.dtype.name().to_owned(),
        backend: "native-reference".to_owned(),
        status: Status::Measured,
        work,
        throughput: Some(Throughput { gflops: work.flops / summary.median_ns, gbps: work.bytes / summary.median_ns }),
        timing: Some(Timing {
            timer: TimerInfo { kind: "host-clock".into(), resolution_ns: 1.0, quantized: false },
            batch: 1,
            warmup: 0,
            samples_ns: sampler.samples().to_vec(),
            summary,
            stopped_by: stopped_by.to_owned(),
            sampling_wall_ns: Some(sampler.spent_ns()),
            cold: ColdTiming { pipeline_ns: None, first_run_ns: Some(cold_ns) },
            phases: vec![],
        }),
        check: None,
        adapter: None,
        shader: ShaderRef { file: String::new(), hash: String::new(), entry_points: vec![] },
        provenance: facts.provenance(seed),
    }
}
