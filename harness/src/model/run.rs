//! Running a model anywhere: the job (graph, initial values, the reference run it is checked
//! against), the record every backend starts from, the metrics derived from per-pass samples,
//! and host execution through the one measurement protocol ([`HostModel`]: native-cpu, the f64
//! reference, the page's WASM path).

use std::collections::BTreeMap;

use super::ModelPrecision;
use super::exec::{self, GraphRun, HostOps, Store};
use super::graph::{Graph, TensorKind};
use super::values::Values;
use crate::check::Tolerance;
use crate::clock;
use crate::measure::{FirstRun, Measurement, Reading, Timed};
use crate::schema::{
    DeviceBytes, ModelFamily, ModelMetrics, Percentiles, Provenance, Record, SCHEMA_VERSION, ShaderRef, Status,
    TimerInfo, TimerKind, Work,
};
use crate::stats::Sample;

/// A model to run: its graph and initial values, and the reference run it is checked against
/// (its tokens are replayed, its output is the expected logits).
#[derive(Debug, Clone, Copy)]
pub struct ModelJob<'a> {
    pub preset: &'a str,
    /// `quick` or `full`.
    pub scale: &'a str,
    pub graph: &'a Graph,
    pub init: &'a [Values],
    pub reference: &'a GraphRun,
    pub tolerance: Tolerance,
    /// What the reference is, for the record.
    pub checked_against: &'a str,
    /// fp16 or quantised weights: the f32 twin's output, for the record's error against fp32.
    pub f32_output: Option<&'a [f32]>,
}

impl ModelJob<'_> {
    /// The record every backend starts a model from: identity, shape parameters, work, and
    /// metrics with no timings yet.
    pub fn base_record(&self, backend: &str, opts_size: &str, provenance: Provenance) -> Record {
        graph_record(self.preset, self.scale, self.graph, self.checked_against, backend, opts_size, provenance)
    }

    /// Leading generated tokens in `tokens` (a backend's free-running decode) equal to the
    /// reference's; `None` for encoders.
    pub fn greedy_matched(&self, tokens: &[u32]) -> Option<u64> {
        let g = self.graph;
        let from = g.prompt + 1;
        let same = self.reference.tokens[from..].iter().zip(&tokens[from..]).take_while(|(a, b)| a == b);
        (g.generate > 0).then(|| same.count() as u64)
    }

    /// Records a backend's free-running token ids in `m`: how many agree with the reference's
    /// greedy ones, and the generated ids themselves (decoders).
    pub fn record_tokens(&self, m: &mut ModelMetrics, tokens: &[u32]) {
        m.greedy_tokens_matched = self.greedy_matched(tokens);
        if self.graph.generate > 0 {
            m.generated = tokens[self.graph.prompt..].to_vec();
        }
    }
}

/// A model's record before any timing: identity, shape parameters, work, and metrics with
/// no timings yet.
fn graph_record(
    preset: &str,
    scale: &str,
    g: &Graph,
    checked_against: &str,
    backend: &str,
    size: &str,
    provenance: Provenance,
) -> Record {
    let c = &g.config;
    let params: BTreeMap<String, u64> = [
        ("prompt", g.prompt),
        ("generate", g.generate),
        ("batch", 1),
        ("layers", c.layers),
        ("hidden", c.hidden),
        ("heads", c.heads),
        ("kv_heads", c.kv_heads),
        ("ffn", c.ffn),
        ("vocab", c.vocab),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v as u64))
    .collect();
    let weights = g.bytes(TensorKind::Weight);
    let kv = g.bytes(TensorKind::KvCache);
    let all = g.total_bytes();
    Record {
        case: case_name(g),
        params,
        status: Status::Measured,
        work: g.work(),
        model: Some(ModelMetrics {
            preset: preset.to_owned(),
            scale: scale.to_owned(),
            family: c.family,
            prompt_tokens: g.prompt as u64,
            generated_tokens: g.generate as u64,
            batch: 1,
            ttft_ns: None,
            prefill_tokens_per_s: None,
            decode_tokens_per_s: None,
            token_latency_ns: None,
            host_token_latency_ns: None,
            encoder_latency_ns: None,
            device_bytes: DeviceBytes { weights, kv_cache: kv, activations: all - weights - kv, total: all },
            peak_rss_bytes: None,
            greedy_tokens_matched: None,
            generated: vec![],
            // A decoder's logits are compared step by step with the reference's tokens fed.
            checked_against: match (checked_against, g.generate) {
                ("", _) => String::new(),
                (c, 0) => c.to_owned(),
                (c, _) => format!("{c}, forced decoding"),
            },
        }),
        dtype: precision(g).name().to_owned(),
        ..record_for(preset, backend, size, provenance)
    }
}

/// A chosen model in a run: its graph at the run's lengths (or why there is none) and the case
/// its records carry, known before any weight exists, so drivers can key and skip it.
#[derive(Debug, Clone)]
pub struct ModelCase {
    pub id: String,
    pub scale: &'static str,
    pub config: crate::schema::ModelConfig,
    pub prompt: usize,
    pub generate: usize,
    pub precision: ModelPrecision,
    pub graph: Result<Graph, super::graph::GraphError>,
}

impl ModelCase {
    /// `chosen` at `size` and `precision`, with these lengths or the defaults
    /// ([`super::lengths`]).
    pub fn new(
        chosen: &super::Chosen,
        size: crate::schema::Size,
        prompt: Option<usize>,
        generate: Option<usize>,
        precision: ModelPrecision,
    ) -> ModelCase {
        let (prompt, generate) = super::lengths(&chosen.config, size, prompt, generate);
        ModelCase {
            id: chosen.id.clone(),
            scale: size.name(),
            config: chosen.config.clone(),
            prompt,
            generate,
            precision,
            graph: Graph::build_at(&chosen.config, prompt, generate, precision),
        }
    }

    /// The graph's values and the reference run by `ops`; below f32 also the f32 twin's output
    /// (the same weights before quantisation or rounding, fed the reference's tokens), which
    /// the record's error against fp32 is measured from.
    pub fn prepare<O: HostOps>(&self, ops: &O, seed: u64) -> Result<PreparedModel, super::graph::GraphError> {
        let graph = self.graph.clone()?;
        let mut m = prepare_graph(ops, graph, seed);
        if self.precision != ModelPrecision::F32 {
            let twin = Graph::build(&self.config, self.prompt, self.generate)?;
            let init = super::values::initial(&twin, seed);
            m.f32_output = Some(exec::run_graph(ops, &twin, &init, Some(&m.reference.tokens)).output);
        }
        Ok(m)
    }

    /// `p32-g16`, `t32`, or the scale for a model with no graph.
    pub fn case(&self) -> String {
        self.graph.as_ref().map_or_else(|_| self.unbuilt_case(), case_name)
    }

    /// The scale, with the precision below f32: distinct for each precision of one model.
    fn unbuilt_case(&self) -> String {
        match self.precision {
            ModelPrecision::F32 => self.scale.to_owned(),
            p => format!("{}-{}", self.scale, p.name()),
        }
    }

    /// A record of this model with `status` and nothing measured: a skip, a failure, or a
    /// model that cannot be built (then `skipped` saying why, whatever `status` was).
    pub fn record(&self, backend: &str, status: Status, provenance: Provenance) -> Record {
        match &self.graph {
            Ok(g) => Record { status, ..graph_record(&self.id, self.scale, g, "", backend, self.scale, provenance) },
            Err(e) => Record {
                case: self.unbuilt_case(),
                dtype: self.precision.name().to_owned(),
                ..unbuilt_record(&self.id, self.scale, &self.config, backend, e.to_string(), provenance)
            },
        }
    }
}

/// `p64-g16` (decoders) or `t128` (encoders), with `-f16`, `-q8` or `-q4` below f32: the
/// record's case name.
pub fn case_name(g: &Graph) -> String {
    let lengths = if g.config.family == ModelFamily::Decoder {
        format!("p{}-g{}", g.prompt, g.generate)
    } else {
        format!("t{}", g.prompt)
    };
    match precision(g) {
        ModelPrecision::F32 => lengths,
        p => format!("{lengths}-{}", p.name()),
    }
}

/// The precision `g` runs at.
pub fn precision(g: &Graph) -> ModelPrecision {
    match (g.half, g.quant) {
        (true, _) => ModelPrecision::F16,
        (false, Some(q)) => ModelPrecision::Quant(q),
        (false, None) => ModelPrecision::F32,
    }
}

pub fn percentiles(v: &[f64]) -> Option<Percentiles> {
    let s = Sample::new(v).ok()?;
    Some(Percentiles { n: v.len() as u64, p50_ns: s.quantile(0.5), p90_ns: s.quantile(0.9), p99_ns: s.quantile(0.99) })
}

pub fn median(v: &[f64]) -> Option<f64> {
    Sample::new(v).ok().map(|s| s.median())
}

/// Fills the rates and latencies of `m` from per-pass samples (pass 0 the prompt, then one per
/// decode step, each list one value per sample).
pub fn fill_from_passes(m: &mut ModelMetrics, passes: &[Vec<f64>]) {
    let Some(prompt) = passes.first() else { return };
    let first = median(prompt);
    if m.generated_tokens == 0 {
        m.encoder_latency_ns = first;
    } else {
        m.ttft_ns = first;
    }
    m.prefill_tokens_per_s = first.map(|ns| m.prompt_tokens as f64 * 1e9 / ns);
    let steps = &passes[1..];
    if steps.is_empty() || steps.iter().any(Vec::is_empty) {
        return;
    }
    let samples = steps.iter().map(Vec::len).min().unwrap_or(0);
    let totals: Vec<f64> = (0..samples).map(|i| steps.iter().map(|s| s[i]).sum()).collect();
    m.decode_tokens_per_s = median(&totals).map(|ns| steps.len() as f64 * 1e9 / ns);
    let all: Vec<f64> = steps.iter().flatten().copied().collect();
    m.token_latency_ns = percentiles(&all);
}

/// A graph on a host executor, timed pass by pass with the host clock.
pub struct HostModel<'a, O: HostOps> {
    pub ops: &'a O,
    pub graph: &'a Graph,
    store: Store<O::T>,
    forced: bool,
    resolution_ns: f64,
}

impl<O: HostOps> std::fmt::Debug for HostModel<'_, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostModel").field("model", &self.graph.config.name).finish()
    }
}

impl<'a, O: HostOps> HostModel<'a, O> {
    /// Ready to run `job`'s graph, replaying the reference's tokens for the checked run.
    pub fn new(ops: &'a O, job: &ModelJob<'a>, resolution_ns: f64) -> Self {
        let mut store = Store::new(job.graph, job.init, O::from_f32);
        store.ids[job.graph.tokens].copy_from_slice(&job.reference.tokens);
        HostModel { ops, graph: job.graph, store, forced: true, resolution_ns }
    }

    /// The token ids after the last run: after sampling, the executor's own greedy tokens.
    pub fn tokens(&self) -> &[u32] {
        &self.store.ids[self.graph.tokens]
    }
}

impl<O: HostOps> Timed for HostModel<'_, O> {
    type Error = std::convert::Infallible;

    async fn first_run(&mut self) -> Result<FirstRun, Self::Error> {
        let t0 = clock::now();
        for nodes in self.graph.passes() {
            exec::run(self.ops, &mut self.store, nodes, self.forced);
        }
        let ns = t0.elapsed().as_secs_f64() * 1e9;
        let output = exec::output::<O>(&self.store, self.graph);
        self.forced = false;
        Ok(FirstRun { output, ns })
    }

    async fn sample(&mut self, reps: u32) -> Result<Reading, Self::Error> {
        let npass = 1 + self.graph.steps.len();
        let mut per_pass = vec![0.0; npass];
        let t0 = clock::now();
        for _ in 0..reps {
            for (i, nodes) in self.graph.passes().enumerate() {
                let t = clock::now();
                exec::run(self.ops, &mut self.store, nodes, self.forced);
                per_pass[i] += t.elapsed().as_secs_f64() * 1e9 / f64::from(reps);
            }
        }
        let wall_ns = t0.elapsed().as_secs_f64() * 1e9;
        Ok(Reading { per_exec_ns: wall_ns / f64::from(reps), wall_ns, per_pass_ns: per_pass })
    }

    fn timer(&self) -> TimerInfo {
        TimerInfo { kind: TimerKind::HostClock, resolution_ns: self.resolution_ns, quantized: false }
    }

    fn phase_labels(&self) -> Vec<String> {
        self.graph.pass_labels()
    }
}

/// Measures `job` on a host executor (never waits: plain code), the record's metrics filled
/// from the passes, the free-running tokens compared with the reference's.
pub fn measure_host_model<O: HostOps>(ops: &O, job: &ModelJob<'_>, run: &crate::host::HostRun<'_>) -> Record {
    let mut record = job.base_record(run.backend, run.size.name(), run.facts.provenance(run.seed));
    record.adapter = run.adapter.clone();
    let (sampling, resolution_ns) = (run.sampling, run.resolution_ns);
    let timed = HostModel::new(ops, job, resolution_ns);
    crate::measure::complete_now(async {
        let mut m = match Measurement::start(
            timed,
            record,
            Some(&job.reference.output),
            job.f32_output,
            job.tolerance,
            sampling,
        )
        .await
        {
            Ok(m) => m,
            Err(r) => return *r,
        };
        while !m.step().await {}
        let (mut record, passes, timed) = m.finish_parts();
        if let Some(metrics) = record.model.as_mut().filter(|_| record.status == Status::Measured) {
            fill_from_passes(metrics, &passes);
            job.record_tokens(metrics, timed.tokens());
        }
        record
    })
}

/// A model ready to run anywhere: its graph, initial values and the reference run.
#[derive(Debug, Clone)]
pub struct PreparedModel {
    pub graph: Graph,
    pub init: Vec<Values>,
    pub reference: GraphRun,
    /// Host time the reference run took, ns.
    pub reference_ns: f64,
    /// Below f32: the f32 twin's output under the same tokens.
    pub f32_output: Option<Vec<f32>>,
}

/// Builds `cfg`'s graph, its seeded values and the reference run by `ops` (the f64 reference
/// at the quick scale; native-cpu's f32 at full scale, where f64 would take minutes).
pub fn prepare<O: HostOps>(
    ops: &O,
    cfg: &crate::schema::ModelConfig,
    prompt: usize,
    generate: usize,
    seed: u64,
) -> Result<PreparedModel, super::graph::GraphError> {
    Ok(prepare_graph(ops, Graph::build(cfg, prompt, generate)?, seed))
}

fn prepare_graph<O: HostOps>(ops: &O, graph: Graph, seed: u64) -> PreparedModel {
    let init = super::values::initial(&graph, seed);
    let t0 = clock::now();
    let reference = exec::run_graph(ops, &graph, &init, None);
    let reference_ns = t0.elapsed().as_secs_f64() * 1e9;
    PreparedModel { graph, init, reference, reference_ns, f32_output: None }
}

impl PreparedModel {
    pub fn job<'a>(&'a self, preset: &'a str, scale: &'a str, checked_against: &'a str) -> ModelJob<'a> {
        ModelJob {
            preset,
            scale,
            graph: &self.graph,
            init: &self.init,
            reference: &self.reference,
            tolerance: if self.graph.half { MODEL_TOLERANCE_F16 } else { MODEL_TOLERANCE },
            checked_against,
            f32_output: self.f32_output.as_deref(),
        }
    }
}

/// Logits after a few f32 layers against f64: the kernels' reductions compound over layers,
/// so the model gets the attention tolerance.
pub const MODEL_TOLERANCE: Tolerance = Tolerance::PERMISSIVE;

/// An fp16 graph against its reference, which rounds every node's output to f16 as the device
/// stores it: the two round apart where an f32 result sits near a half-way point, by an f16
/// step (2^-11 relative) that later layers carry on.
pub const MODEL_TOLERANCE_F16: Tolerance = Tolerance::HALF;

/// The record of a model that could not be built or placed at all (no graph: a family the
/// catalogue cannot run yet, a budget it does not fit), `skipped` with the reason.
pub fn unbuilt_record(
    preset: &str,
    scale: &str,
    cfg: &crate::schema::ModelConfig,
    backend: &str,
    reason: String,
    provenance: Provenance,
) -> Record {
    Record {
        case: scale.to_owned(),
        params: [("layers", cfg.layers), ("hidden", cfg.hidden)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v as u64))
            .collect(),
        status: Status::Skipped { reason },
        ..record_for(preset, backend, scale, provenance)
    }
}

/// A model record with its identity and nothing measured yet.
fn record_for(preset: &str, backend: &str, size: &str, provenance: Provenance) -> Record {
    Record {
        schema_version: SCHEMA_VERSION,
        kernel: preset.to_owned(),
        family: "model".into(),
        case: String::new(),
        params: BTreeMap::new(),
        size: size.to_owned(),
        dtype: "f32".into(),
        mode: crate::schema::Mode::Inference,
        backend: backend.to_owned(),
        status: Status::Measured,
        work: Work { flops: 0.0, bytes: 0.0 },
        timing: None,
        throughput: None,
        check: None,
        adapter: None,
        shader: ShaderRef { file: String::new(), hash: String::new(), entry_points: vec![] },
        provenance,
        model: None,
        training: None,
        peak: None,
        variant: None,
        autotune: None,
    }
}
