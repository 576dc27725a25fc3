//! A training run as drivers see it: the chosen decoder at a scale, its step graph (or why there
//! is none), the seeded weights and batch, the f64 reference's loss curve, and records.

use std::collections::BTreeMap;

use super::{TrainError, TrainGraph};
use crate::schema::{
    Mode, ModelConfig, Percentiles, Provenance, Record, SCHEMA_VERSION, ShaderRef, Status, TrainingMetrics, Work,
};

/// Steps of a training run: enough for the loss on one fixed batch to fall visibly.
pub const STEPS: usize = 20;

/// Tokens per step at a scale: one sequence of 32 (quick) or 256 (full) tokens.
pub fn tokens(size: crate::schema::Size) -> usize {
    match size {
        crate::schema::Size::Quick => 32,
        crate::schema::Size::Full => 256,
    }
}

/// A chosen decoder's training run, known before any weight exists.
#[derive(Debug, Clone)]
pub struct TrainCase {
    pub id: String,
    pub scale: &'static str,
    pub config: ModelConfig,
    pub steps: usize,
    pub graph: Result<TrainGraph, TrainError>,
}

/// Weights, batch and the reference's losses: what every backend starts from and is checked
/// against.
#[derive(Debug, Clone)]
pub struct PreparedTraining {
    pub weights: Vec<Vec<f32>>,
    pub ids: Vec<u32>,
    pub reference: Vec<f64>,
}

impl TrainCase {
    pub fn new(chosen: &crate::model::Chosen, size: crate::schema::Size) -> TrainCase {
        let t = tokens(size).min(chosen.config.context);
        TrainCase {
            id: chosen.id.clone(),
            scale: size.name(),
            config: chosen.config.clone(),
            steps: STEPS,
            graph: TrainGraph::build(&chosen.config, t),
        }
    }

    /// `train-t32` (`train` for a model with no training step): the record's case.
    pub fn case(&self) -> String {
        self.graph.as_ref().map_or_else(|_| "train".to_owned(), |g| format!("train-t{}", g.tokens))
    }

    /// The seeded start and the f64 reference's loss curve (the expensive part, done once per
    /// run and shared by every backend).
    pub fn prepare(&self, seed: u64) -> Result<PreparedTraining, TrainError> {
        let g = self.graph.clone()?;
        let (weights, ids) = g.initial(seed);
        let reference = super::reference::train(&g, &weights, &ids, self.steps);
        Ok(PreparedTraining { weights, ids, reference })
    }

    /// A record of this run with `status` and nothing measured (a skip, a failure, or a config
    /// with no training step, then `skipped` saying why).
    pub fn record(&self, backend: &str, status: Status, provenance: Provenance) -> Record {
        let status = match &self.graph {
            Ok(_) => status,
            Err(e) => Status::Skipped { reason: e.to_string() },
        };
        let (params, work) = match &self.graph {
            Ok(g) => (
                BTreeMap::from([
                    ("layers".to_owned(), self.config.layers as u64),
                    ("hidden".to_owned(), self.config.hidden as u64),
                    ("tokens".to_owned(), g.tokens as u64),
                    ("steps".to_owned(), self.steps as u64),
                ]),
                Work { flops: g.flops(), bytes: 0.0 },
            ),
            Err(_) => (BTreeMap::new(), Work { flops: 0.0, bytes: 0.0 }),
        };
        Record {
            schema_version: SCHEMA_VERSION,
            kernel: self.id.clone(),
            family: "model".into(),
            case: self.case(),
            params,
            size: self.scale.to_owned(),
            dtype: "f32".into(),
            mode: Mode::Training,
            backend: backend.to_owned(),
            status,
            work,
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
}

/// Fills a record from a run's per-step losses and latencies, checking the losses against the
/// reference: within 1e-3 at the first step (one forward pass in f32) and 5e-2 over the run
/// (f32 and f64 optimisers part slowly, AdamW dividing by tiny second moments), else a
/// `mismatch` naming the step.
/// `timer` says how the steps were timed (the host clock and its measured resolution); the
/// steady steps are the record's samples and the first its cold run.
pub fn finish(
    record: &mut Record,
    g: &TrainGraph,
    prep: &PreparedTraining,
    losses: Vec<f64>,
    (step_ns, timer): (&[f64], crate::schema::TimerInfo),
    device_bytes: u64,
) {
    let rel: Vec<f64> = losses
        .iter()
        .zip(&prep.reference)
        .map(|(a, b)| if a.is_finite() { (a - b).abs() / b.abs() } else { f64::INFINITY })
        .collect();
    let max = rel.iter().copied().fold(0.0, f64::max);
    let bad = rel.iter().enumerate().find(|&(i, &e)| e > if i == 0 { 1e-3 } else { 5e-2 });
    if let Some((i, _)) = bad {
        record.status = Status::Mismatch {
            reason: format!(
                "step {} loss {:.6} against the reference's {:.6} (relative error {:.2e})",
                i + 1,
                losses[i],
                prep.reference[i],
                rel[i]
            ),
        };
    }
    // The first step apart: lazily compiling drivers pay their compiles in it.
    let (first, steady) = match step_ns {
        [first, rest @ ..] if !rest.is_empty() => (*first, rest),
        _ => (step_ns.first().copied().unwrap_or(f64::NAN), step_ns),
    };
    let median = crate::model::run::median(steady).unwrap_or(f64::NAN);
    if let Ok(s) = crate::stats::Sample::new(steady) {
        record.timing = Some(crate::schema::Timing {
            timer,
            batch: 1,
            warmup: 1,
            samples_ns: steady.to_vec(),
            summary: s.summary(),
            stopped_by: crate::schema::StopReason::MaxSamples,
            sampling_wall_ns: Some(step_ns.iter().sum()),
            cold: crate::schema::ColdTiming { first_run_ns: Some(first), ..Default::default() },
            phases: vec![],
        });
        record.throughput = Some(crate::schema::Throughput { gflops: g.flops() / median, gbps: 0.0 });
    }
    record.training = Some(TrainingMetrics {
        preset: record.kernel.clone(),
        scale: record.size.clone(),
        tokens: g.tokens as u64,
        parameters: g.parameters() as u64,
        steps: losses.len() as u64,
        first_step_ns: first,
        step_latency_ns: crate::model::run::percentiles(steady).unwrap_or(Percentiles {
            n: 0,
            p50_ns: f64::NAN,
            p90_ns: f64::NAN,
            p99_ns: f64::NAN,
        }),
        steps_per_s: 1e9 / median,
        tokens_per_s: g.tokens as f64 * 1e9 / median,
        gflops: g.flops() / median,
        losses,
        reference_losses: prep.reference.clone(),
        max_loss_rel_err: max,
        device_bytes,
    });
}
