//! `accelbench model`: whole models (presets or `--config`) on the native backends: every wgpu
//! adapter, native-cpu and the f64 reference itself, each checked under forced decoding before
//! it is timed, with time to first token, prefill and decode rates, per-token latency and
//! device memory per backend. A model that does not fit an adapter or the memory budget is
//! `skipped` naming the tensor, its size and the limit, before any weight is generated.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use harness::gpu::{self, GpuDevice, RunOptions};
use harness::host::HostRun;
use harness::measure::SamplingConfig;
use harness::model::graph::Graph;
use harness::model::reference::Reference;
use harness::model::run::{ModelCase, PreparedModel, measure_host_model};
use harness::model::{self, Chosen};
use harness::schema::{Record, Size, Status};
use harness::train::run::TrainCase;

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
    /// Precisions, comma-separated: f32; f16 (fp16 weights, activations and KV cache, f32
    /// arithmetic; needs `shader-f16`); q8, q4 (the linear layers' weights block-quantised,
    /// dequantised in the kernels; embeddings, norms and the LM head stay f32)
    #[arg(long, value_delimiter = ',', default_values_t = vec!["f32".to_owned()])]
    weights: Vec<String>,
    /// Backends, comma-separated: `wgpu` (every native adapter), `cpu` (native-cpu), `reference`
    #[arg(long, value_delimiter = ',', default_values_t = vec!["wgpu".to_owned(), "cpu".to_owned()])]
    backends: Vec<String>,
    /// Only wgpu adapters whose name or backend contains this (case-insensitive)
    #[arg(long)]
    adapter: Option<String>,
    /// Train instead: 20 steps (forward, loss, backward, AdamW) of each decoder on one fixed
    /// batch, steps/s, tokens/s and the loss curve checked against the f64 reference
    #[arg(long)]
    train: bool,
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

/// The models `args` name, at the chosen scale.
fn models(args: &ModelArgs, size: Size) -> anyhow::Result<Vec<Chosen>> {
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --config {}; pass a model config JSON file", path.display()))?;
        let cfg = model::parse_config(&text).with_context(|| format!("in --config {}", path.display()))?;
        return Ok(vec![Chosen { id: cfg.name.clone(), config: model::at_scale(cfg, size) }]);
    }
    let ids = if args.presets.is_empty() { vec!["all".to_owned()] } else { args.presets.clone() };
    model::select(&ids, size).context("name presets listed by `accelbench models`, or pass --config FILE")
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

/// Models on the native backends, validated: what `accelbench model` and `accelbench run
/// --native` execute.
#[derive(Debug)]
pub struct ModelPlan {
    pub models: Vec<ModelCase>,
    /// Training runs of the chosen models (decoders train; others get a `skipped` record).
    pub trainings: Vec<TrainCase>,
    pub size: Size,
    /// `wgpu`, `cpu`, `reference`.
    pub backends: Vec<String>,
    pub adapter: Option<String>,
    pub memory_budget: Option<u64>,
    pub seed: u64,
    pub sampling: SamplingConfig,
    /// Where the Vulkan pipeline caches are kept between runs; none: in memory.
    pub cache_dir: Option<std::path::PathBuf>,
}

impl ModelPlan {
    /// The models at `size` and these lengths on `backends` (checked): inference runs and
    /// training runs as `modes` (`inference`, `training`; empty: both) ask.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        chosen: &[Chosen],
        modes: &[String],
        weights: &[String],
        size: Size,
        (prompt, generate): (Option<usize>, Option<usize>),
        backends: &[String],
        adapter: Option<String>,
        memory_budget: Option<u64>,
        seed: u64,
        sampling: SamplingConfig,
    ) -> anyhow::Result<ModelPlan> {
        for b in backends {
            if !BACKENDS.contains(&b.as_str()) {
                bail!("unknown backend `{b}`; choose from: {}", BACKENDS.join(", "));
            }
        }
        let formats = model::precisions(weights)?;
        let wants = |m: &str| modes.is_empty() || modes.iter().any(|x| x == m);
        let models = chosen
            .iter()
            .filter(|_| wants("inference"))
            .flat_map(|c| formats.iter().map(move |&w| ModelCase::new(c, size, prompt, generate, w)))
            .collect();
        let trainings = chosen.iter().filter(|_| wants("training")).map(|c| TrainCase::new(c, size)).collect();
        Ok(ModelPlan {
            models,
            trainings,
            size,
            backends: backends.to_vec(),
            adapter,
            memory_budget,
            seed,
            sampling,
            cache_dir: None,
        })
    }

    fn wants(&self, b: &str) -> bool {
        self.backends.iter().any(|x| x == b)
    }

    /// Every model on every backend, each record handed to `emit` as it exists.
    pub fn collect(&self, mut emit: impl FnMut(Record) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let facts = facts::host_facts();
        let host_resolution_ns = harness::clock::resolution_ns();
        let mut devices =
            if self.wants("wgpu") { crate::native::open_devices(self.adapter.as_deref())? } else { vec![] };
        crate::cache::attach_pipeline_caches(&mut devices, self.cache_dir.as_deref());
        let prov = || facts.provenance(self.seed);
        let host: Vec<&str> = ["cpu", "reference"].into_iter().filter(|b| self.wants(b)).collect();
        let mut labels: Vec<String> = devices.iter().map(|(l, _)| l.clone()).collect();
        labels.extend(host.iter().map(|b| format!("native-{b}")));
        let scale = self.size.name();
        for m in &self.models {
            let graph = match &m.graph {
                Ok(g) => g,
                Err(_) => {
                    for l in &labels {
                        emit(m.record(l, Status::Measured, prov()))?;
                    }
                    continue;
                }
            };
            // Placement first: a model no device can hold costs no weights.
            let mut runnable = Vec::new();
            for (label, dev) in &devices {
                match placement(graph, Some(dev), self.memory_budget) {
                    Some(reason) => emit(m.record(label, Status::Skipped { reason }, prov()))?,
                    None => runnable.push((label, dev)),
                }
            }
            let host_reason = placement(graph, None, self.memory_budget);
            if let Some(reason) = &host_reason {
                for b in &host {
                    emit(m.record(&format!("native-{b}"), Status::Skipped { reason: reason.clone() }, prov()))?;
                }
            }
            let hosts_run = host_reason.is_none() && !host.is_empty();
            if runnable.is_empty() && !hosts_run {
                continue;
            }
            // The f64 reference at the quick scale; native-cpu's f32 at full scale (f64 would
            // take minutes for a 1B model), as the record says.
            let (prepared, against): (PreparedModel, &str) = match self.size {
                Size::Quick => (m.prepare(&Reference, self.seed)?, "f64 reference"),
                Size::Full => (m.prepare(&CpuOps, self.seed)?, "native-cpu f32"),
            };
            let job = prepared.job(&m.id, scale, against);
            for (label, dev) in &runnable {
                let opts = RunOptions {
                    backend: (*label).clone(),
                    size: self.size,
                    seed: self.seed,
                    sampling: self.sampling.clone(),
                    use_timestamps: true,
                    host_resolution_ns,
                    facts: facts.clone(),
                    autotune: harness::autotune::AutotuneOptions::off(),
                };
                emit(pollster::block_on(gpu::run_model(dev, &job, &opts)))?;
            }
            if hosts_run {
                for b in &host {
                    let label = format!("native-{b}");
                    let run = HostRun {
                        backend: &label,
                        adapter: None,
                        size: self.size,
                        seed: self.seed,
                        sampling: &self.sampling,
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
        for t in &self.trainings {
            if t.graph.is_err() {
                for l in &labels {
                    emit(t.record(l, Status::Measured, prov()))?;
                }
                continue;
            }
            let prepared = t.prepare(self.seed)?;
            for (label, dev) in &devices {
                let opts = RunOptions {
                    backend: label.clone(),
                    size: self.size,
                    seed: self.seed,
                    sampling: self.sampling.clone(),
                    use_timestamps: false,
                    host_resolution_ns,
                    facts: facts.clone(),
                    autotune: harness::autotune::AutotuneOptions::off(),
                };
                emit(pollster::block_on(gpu::run_training(dev, t, &prepared, &opts)))?;
            }
            for b in &host {
                let label = format!("native-{b}");
                emit(match *b {
                    "cpu" => crate::backends::cpu_train::run_training(
                        t,
                        &prepared,
                        t.record(&label, Status::Measured, prov()),
                        host_resolution_ns,
                    ),
                    _ => {
                        let reason = "the f64 reference's training step is what every backend's losses are \
                                      checked against, not a contender; native-cpu is the CPU's"
                            .to_owned();
                        t.record(&label, Status::Skipped { reason }, prov())
                    }
                })?;
            }
        }
        crate::cache::save_pipeline_caches(&devices, self.cache_dir.as_deref());
        Ok(())
    }
}

pub fn run(args: &ModelArgs) -> anyhow::Result<Outcome> {
    let size = if args.quick { Size::Quick } else { Size::Full };
    let chosen = models(args, size)?;
    let sampling = crate::native::sampling(args.quick, args.budget)?;
    let modes = if args.train { vec!["training".to_owned()] } else { vec!["inference".to_owned()] };
    let plan = ModelPlan::new(
        &chosen,
        &modes,
        &args.weights,
        size,
        (args.prompt, args.generate),
        &args.backends,
        args.adapter.clone(),
        args.memory_budget,
        args.seed,
        sampling,
    )?;
    let mut stream = crate::results::RecordStream::new(args.json, args.out.as_deref())?;
    plan.collect(|r| {
        let b = brief(&r);
        stream.emit(r, &b)
    })?;
    let records = stream.records;
    if !args.json {
        if args.train {
            println!("{}", crate::report::training_table(&records));
        } else {
            println!("{}", crate::report::model_table(&records));
        }
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
    if let (Status::Measured, Some(t)) = (&r.status, &r.training) {
        let (a, b) = (t.losses.first().unwrap_or(&f64::NAN), t.losses.last().unwrap_or(&f64::NAN));
        return format!("{:.1} steps/s, loss {a:.3} -> {b:.3}", t.steps_per_s);
    }
    match (&r.status, &r.model) {
        (Status::Measured, Some(m)) => match (m.ttft_ns, m.decode_tokens_per_s, m.encoder_latency_ns) {
            (Some(t), Some(d), _) => format!("TTFT {:.2} ms, decode {d:.1} tok/s", t / 1e6),
            (_, _, Some(e)) => format!("encode {:.2} ms", e / 1e6),
            _ => "measured".into(),
        },
        (s, _) => format!("{}: {}", s.label(), s.reason().unwrap_or("")),
    }
}
