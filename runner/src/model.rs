//! `accelbench model`: whole models (presets or `--config`) on the native backends: every wgpu
//! adapter, native-cpu and the f64 reference itself, each checked under forced decoding before
//! it is timed, with time to first token, prefill and decode rates, per-token latency and
//! device memory per backend. A model that does not fit an adapter or the memory budget is
//! `skipped` naming the tensor, its size and the limit, before any weight is generated.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use harness::gpu::{self, GpuDevice, RunOptions};
use harness::host::HostRun;
use harness::model::graph::Graph;
use harness::model::reference::Reference;
use harness::model::run::{PreparedModel, measure_host_model, prepare, unbuilt_record};
use harness::model::{self, PRESETS};
use harness::schema::{ModelConfig, Record, Size, Status};

use crate::backends::cpu_model::CpuOps;
use crate::{Outcome, facts};

#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Preset ids (see `accelbench models`); default: every preset
    presets: Vec<String>,
    /// Run this config instead: accelbench's model JSON or a Hugging Face `config.json`
    #[arg(long, conflicts_with = "presets")]
    config: Option<PathBuf>,
    /// The small scale of each model (2 layers, 4 heads of 32; seconds on CPU adapters); the
    /// default is the published `full` scale
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    #[arg(long)]
    full: bool,
    /// Prompt tokens (default 32 quick, 512 full; encoders: the input length)
    #[arg(long)]
    prompt: Option<usize>,
    /// Tokens generated one at a time after the prompt (default 16 quick, 128 full)
    #[arg(long = "gen")]
    generate: Option<usize>,
    /// Backends, comma-separated: `wgpu` (every native adapter), `cpu` (native-cpu), `reference`
    #[arg(long, value_delimiter = ',', default_values_t = vec!["wgpu".to_owned(), "cpu".to_owned()])]
    backends: Vec<String>,
    /// Only wgpu adapters whose name or backend contains this (case-insensitive)
    #[arg(long)]
    adapter: Option<String>,
    /// Device memory a model may use, e.g. `2GiB` or `512MiB`; larger ones are skipped
    #[arg(long, value_parser = parse_bytes)]
    memory_budget: Option<u64>,
    /// One JSON record per line on stdout instead of the table
    #[arg(long)]
    json: bool,
    /// Also append every record as JSON Lines to this file
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed of the random weights and prompt
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Per model, per backend sampling budget in seconds (default: 0.4 quick, 5 full)
    #[arg(long)]
    budget: Option<f64>,
}

const BACKENDS: [&str; 3] = ["wgpu", "cpu", "reference"];

/// `2GiB`, `512MiB`, `300MB`, `1000000` (bytes).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.trim().parse().map_err(|_| format!("`{s}` is not a size; write e.g. 2GiB, 512MiB or 300MB"))?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("unknown unit `{other}` in `{s}`; use B, KB, MB, GB, KiB, MiB or GiB")),
    };
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("`{s}`: the budget must be positive"));
    }
    Ok((n * mult) as u64)
}

/// (preset id, config at the chosen scale).
fn models(args: &ModelArgs, size: Size) -> anyhow::Result<Vec<(String, ModelConfig)>> {
    let scale = |cfg: ModelConfig| if size == Size::Quick { model::quick(&cfg) } else { cfg };
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --config {}; pass a model config JSON file", path.display()))?;
        let cfg = model::parse_config(&text).with_context(|| format!("in --config {}", path.display()))?;
        return Ok(vec![(cfg.name.clone(), scale(cfg))]);
    }
    let ids: Vec<&str> = if args.presets.is_empty() {
        PRESETS.iter().map(|p| p.id).collect()
    } else {
        args.presets.iter().map(String::as_str).collect()
    };
    ids.into_iter()
        .map(|id| {
            let p = model::preset(id).with_context(|| {
                let known: Vec<_> = PRESETS.iter().map(|p| p.id).collect();
                format!("unknown model `{id}`; presets: {} (or pass --config FILE)", known.join(", "))
            })?;
            Ok((id.to_owned(), scale((p.config)())))
        })
        .collect()
}

/// Why `dev` cannot hold `g` unsplit, before any weight exists: the largest tensor against
/// the binding limit (splitting tensors is not built yet, so a model over it is skipped).
fn placement(g: &Graph, dev: Option<&GpuDevice>, budget: Option<u64>) -> Option<String> {
    let total = g.total_bytes();
    if let Some(b) = budget.filter(|&b| total > b) {
        return Some(format!(
            "needs {total} bytes of device memory (weights, KV cache, activations), over --memory-budget {b}; \
             splitting a model into stages is not built yet"
        ));
    }
    let dev = dev?;
    let (name, bytes) = g.largest_tensor();
    let limit = dev.limits.max_storage_buffer_binding_size.min(dev.limits.max_buffer_size);
    (bytes > limit).then(|| {
        format!(
            "tensor `{name}` is {bytes} bytes; adapter `{}` binds at most {limit} (max_storage_buffer_binding_size); \
             splitting tensors into bindable chunks is not built yet",
            dev.report.name
        )
    })
}

pub fn run(args: &ModelArgs) -> anyhow::Result<Outcome> {
    for b in &args.backends {
        if !BACKENDS.contains(&b.as_str()) {
            bail!("unknown backend `{b}`; choose from: {}", BACKENDS.join(", "));
        }
    }
    let size = if args.quick { Size::Quick } else { Size::Full };
    let scale = size.name();
    let (prompt, generate) = match size {
        Size::Quick => (args.prompt.unwrap_or(32), args.generate.unwrap_or(16)),
        Size::Full => (args.prompt.unwrap_or(512), args.generate.unwrap_or(128)),
    };
    let models = models(args, size)?;
    let sampling = crate::native::sampling(args.quick, args.budget)?;
    let facts = facts::host_facts();
    let host_resolution_ns = harness::clock::resolution_ns();
    let want = |b: &str| args.backends.iter().any(|x| x == b);
    let devices = if want("wgpu") { crate::native::open_devices(args.adapter.as_deref())? } else { vec![] };
    let mut stream = crate::results::RecordStream::new(args.json, args.out.as_deref())?;
    let mut emit = |r: Record| {
        let b = brief(&r);
        stream.emit(r, &b)
    };
    let prov = || facts.provenance(args.seed);
    let mut labels: Vec<String> = devices.iter().map(|(l, _)| l.clone()).collect();
    labels.extend(["cpu", "reference"].iter().filter(|b| want(b)).map(|b| format!("native-{b}")));
    for (id, cfg) in &models {
        let graph = match Graph::build(cfg, prompt, generate) {
            Ok(g) => g,
            Err(e) => {
                for l in &labels {
                    emit(unbuilt_record(id, scale, cfg, l, e.to_string(), prov()))?;
                }
                continue;
            }
        };
        // Placement first: a model no device can hold costs no weights.
        let mut runnable = Vec::new();
        for (label, dev) in &devices {
            match placement(&graph, Some(dev), args.memory_budget) {
                Some(reason) => emit(unbuilt_record(id, scale, cfg, label, reason, prov()))?,
                None => runnable.push((label, dev)),
            }
        }
        let host_reason = placement(&graph, None, args.memory_budget);
        let host: Vec<&str> = ["cpu", "reference"].into_iter().filter(|b| want(b)).collect();
        if let Some(reason) = &host_reason {
            for b in &host {
                emit(unbuilt_record(id, scale, cfg, &format!("native-{b}"), reason.clone(), prov()))?;
            }
        }
        let hosts_run = host_reason.is_none() && !host.is_empty();
        if runnable.is_empty() && !hosts_run {
            continue;
        }
        // The f64 reference at the quick scale; native-cpu's f32 at full scale (f64 would take
        // minutes for a 1B model), as the record says.
        let (m, against): (PreparedModel, &str) = match size {
            Size::Quick => (prepare(&Reference, cfg, prompt, generate, args.seed)?, "f64 reference, forced decoding"),
            Size::Full => (prepare(&CpuOps, cfg, prompt, generate, args.seed)?, "native-cpu f32, forced decoding"),
        };
        let job = m.job(id, scale, against);
        for (label, dev) in &runnable {
            let opts = RunOptions {
                backend: (*label).clone(),
                size,
                seed: args.seed,
                sampling: sampling.clone(),
                use_timestamps: true,
                host_resolution_ns,
                facts: facts.clone(),
            };
            emit(pollster::block_on(gpu::run_model(dev, &job, &opts)))?;
        }
        if hosts_run {
            for b in &host {
                let label = format!("native-{b}");
                let run = HostRun {
                    backend: &label,
                    adapter: None,
                    size,
                    seed: args.seed,
                    sampling: &sampling,
                    facts: &facts,
                    resolution_ns: host_resolution_ns,
                };
                let mut r = match *b {
                    "cpu" => measure_host_model(&CpuOps, &job, &run),
                    _ => measure_host_model(&Reference, &job, &run),
                };
                if let Some(mm) = r.model.as_mut() {
                    mm.peak_rss_bytes = peak_rss();
                }
                emit(r)?;
            }
        }
    }
    let records = stream.records;
    if !args.json {
        print_table(&records);
    }
    let bad = records.iter().filter(|r| matches!(r.status, Status::Mismatch { .. })).count();
    if bad > 0 {
        eprintln!("{bad} mismatch(es): logits disagreed with the reference");
    }
    Ok(if bad > 0 { Outcome::Failed } else { Outcome::Ok })
}

/// Peak resident set of this process (Linux `VmHWM`), bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn brief(r: &Record) -> String {
    match (&r.status, &r.model) {
        (Status::Measured, Some(m)) => match (m.ttft_ns, m.decode_tokens_per_s, m.encoder_latency_ns) {
            (Some(t), Some(d), _) => format!("TTFT {:.2} ms, decode {d:.1} tok/s", t / 1e6),
            (_, _, Some(e)) => format!("encode {:.2} ms", e / 1e6),
            _ => "measured".into(),
        },
        (s, _) => format!("{}: {}", s.label(), s.reason().unwrap_or("")),
    }
}

fn ms(ns: Option<f64>) -> String {
    ns.map_or("-".into(), |v| format!("{:.3}", v / 1e6))
}

fn rate(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

/// One row per model and backend: the figures llama-bench and ONNX Runtime users compare.
pub fn print_table(records: &[Record]) {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "model",
        "case",
        "backend",
        "status",
        "TTFT / encode ms",
        "prefill tok/s",
        "decode tok/s",
        "token ms p50 / p99",
        "host token ms p50",
        "device MiB",
        "check",
    ]);
    for r in records {
        let num = |v: String| Cell::new(v).set_alignment(CellAlignment::Right);
        let m = r.model.as_ref();
        let first = m.and_then(|m| m.ttft_ns.or(m.encoder_latency_ns));
        let lat = m
            .and_then(|m| m.token_latency_ns)
            .map_or("-".into(), |p| format!("{} / {}", ms(Some(p.p50_ns)), ms(Some(p.p99_ns))));
        let check = match (&r.status, &r.check) {
            (Status::Measured, Some(c)) => format!("max rel {:.1e}", c.max_rel_err),
            (s, _) => s.reason().unwrap_or("").chars().take(60).collect(),
        };
        t.add_row(vec![
            Cell::new(&r.kernel),
            Cell::new(&r.case),
            Cell::new(&r.backend),
            Cell::new(r.status.label()),
            num(ms(first)),
            num(rate(m.and_then(|m| m.prefill_tokens_per_s))),
            num(rate(m.and_then(|m| m.decode_tokens_per_s))),
            num(lat),
            num(ms(m.and_then(|m| m.host_token_latency_ns).map(|p| p.p50_ns))),
            num(m.map_or("-".into(), |m| format!("{:.1}", m.device_bytes.total as f64 / (1u64 << 20) as f64))),
            Cell::new(check),
        ]);
    }
    println!("{t}");
}
