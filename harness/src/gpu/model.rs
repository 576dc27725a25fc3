//! A whole model on a wgpu device: the lowered graph checked once under forced decoding against
//! the reference's logits, then measured through the one protocol as whole sequences (the
//! prompt's pass and every decode step timed apart), then decoded step by step with each token
//! read back, as a page waits for it. Every outcome is a record with [`ModelMetrics`].

use crate::clock;
use crate::measure::Measurement;
use crate::model::graph::Graph;
use crate::model::lower::{Lowered, lower};
use crate::model::run::{ModelJob, fill_from_passes, median, percentiles};
use crate::schema::{Record, ShaderRef, Status};

use super::resources::{Resources, encode, prepare};
use super::timing::GpuTimed;
use super::{GpuDevice, GpuError, RunOptions, unmet_plan_requirement};

/// Runs a model on `dev`: requirements (a buffer over the binding limit is `skipped`, naming
/// it), the checked run, sampling, then step-by-step host latency and the free-running tokens.
pub async fn run_model(dev: &GpuDevice, job: &ModelJob<'_>, opts: &RunOptions) -> Record {
    let mut record = job.base_record(&opts.backend, opts.size.name(), opts.facts.provenance(opts.seed));
    record.adapter = Some(dev.report.clone());
    let Lowered { plan, forced_flag, tokens, .. } = lower(job.graph, job.init, &job.reference.tokens);
    let shaders = plan.shaders();
    record.shader = ShaderRef {
        file: shaders.iter().map(|s| s.file).collect::<Vec<_>>().join("+"),
        hash: shaders.iter().map(|s| s.hash).collect::<Vec<_>>().join("+"),
        entry_points: vec![],
    };
    if let Some(reason) = unmet_plan_requirement(dev, &[], &plan) {
        record.status = Status::Skipped { reason };
        return record;
    }
    let (res, compiled) = match prepare(dev, &plan).await {
        Ok(p) => p,
        Err(e) => {
            record.status = Status::Failed { reason: e.to_string() };
            return record;
        }
    };
    let mut timed = GpuTimed::new(dev, plan, res, compiled, opts);
    timed.after_check = Some((forced_flag, 0u32.to_le_bytes().to_vec()));
    let expected = &job.reference.output;
    let mut m =
        match Measurement::start(timed, record, Some(expected), job.f32_output, job.tolerance, &opts.sampling).await {
            Ok(m) => m,
            Err(r) => return *r,
        };
    while !m.step().await {}
    let (mut record, mut passes, timed) = m.finish_parts();
    if record.status != Status::Measured {
        return record;
    }
    if passes.is_empty()
        && let Some(t) = record.timing.as_ref().filter(|t| t.timer.kind == crate::schema::TimerKind::GpuTimestamp)
    {
        // One pass (an encoder): the timer reports it as the whole execution.
        passes = vec![t.samples_ns.clone()];
    }
    let host = host_decode(dev, &timed.res, tokens, job.graph).await;
    let metrics = record.model.as_mut().expect("model records carry metrics");
    fill_from_passes(metrics, &passes);
    match host {
        Ok(h) => {
            if metrics.ttft_ns.is_none() && metrics.generated_tokens > 0 {
                metrics.ttft_ns = median(&h.prefill_ns);
                metrics.prefill_tokens_per_s = metrics.ttft_ns.map(|ns| metrics.prompt_tokens as f64 * 1e9 / ns);
            }
            if metrics.encoder_latency_ns.is_none() && metrics.generated_tokens == 0 {
                metrics.encoder_latency_ns = median(&h.prefill_ns);
            }
            metrics.host_token_latency_ns = percentiles(&h.step_ns);
            job.record_tokens(metrics, &h.tokens);
        }
        Err(e) => record.status = Status::Failed { reason: format!("while decoding step by step: {e}") },
    }
    record
}

struct HostDecode {
    prefill_ns: Vec<f64>,
    step_ns: Vec<f64>,
    tokens: Vec<u32>,
}

/// Rounds of step-by-step decoding with read-back for the host latency.
const HOST_ROUNDS: usize = 3;

/// Decodes as an application does: submit the prompt, then each step, reading its token id
/// back before the next (the host clock, submit to id on the CPU). The last round's tokens are
/// the device's free-running generation.
async fn host_decode(dev: &GpuDevice, res: &Resources, tokens: usize, g: &Graph) -> Result<HostDecode, GpuError> {
    let n = g.tokens_len();
    let readback = dev.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("token-readback"),
        size: (4 * n as u64).next_multiple_of(4),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut out = HostDecode { prefill_ns: vec![], step_ns: vec![], tokens: vec![] };
    for _ in 0..HOST_ROUNDS {
        for (i, pass) in res.timed.iter().enumerate() {
            let slot = (g.prompt + i) as u64;
            let mut enc = dev.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("step") });
            encode(&mut enc, std::slice::from_ref(pass), 1, None);
            enc.copy_buffer_to_buffer(&res.buffers[tokens], 4 * slot, &readback, 0, 4);
            let t0 = clock::now();
            dev.queue.submit([enc.finish()]);
            dev.read(&readback, 4).await?;
            let ns = t0.elapsed().as_secs_f64() * 1e9;
            if i == 0 { out.prefill_ns.push(ns) } else { out.step_ns.push(ns) }
        }
    }
    let mut enc = dev.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("tokens") });
    enc.copy_buffer_to_buffer(&res.buffers[tokens], 0, &readback, 0, 4 * n as u64);
    dev.queue.submit([enc.finish()]);
    let raw = dev.read(&readback, 4 * n as u64).await?;
    out.tokens = bytemuck::cast_slice::<u8, u32>(&raw).to_vec();
    Ok(out)
}
