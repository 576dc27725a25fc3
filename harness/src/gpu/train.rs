//! A training run on a wgpu device: the lowered step uploaded once, then run step after step,
//! each submitted and timed on the host until its loss is read back (as a training loop that
//! logs its loss waits), the losses checked against the f64 reference.

use crate::clock;
use crate::schema::{Record, ShaderRef, Status};
use crate::train::lower::{TrainPlan, lower};
use crate::train::run::{PreparedTraining, TrainCase, finish};

use super::resources::{encode, prepare};
use super::{GpuDevice, RunOptions, unmet_plan_requirement};

/// Runs `case` from `prep` on `dev`; every outcome is a record.
pub async fn run_training(dev: &GpuDevice, case: &TrainCase, prep: &PreparedTraining, opts: &RunOptions) -> Record {
    let mut record = case.record(&opts.backend, Status::Measured, opts.facts.provenance(opts.seed));
    record.adapter = Some(dev.report.clone());
    let Ok(g) = &case.graph else { return record };
    let TrainPlan { plan, loss_at } = lower(g, &prep.weights, &prep.ids);
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
    let device_bytes = plan.buffers.iter().map(|b| b.size()).sum();
    let (res, compiled) = match prepare(dev, &plan).await {
        Ok(p) => p,
        Err(e) => {
            record.status = Status::Failed { reason: e.to_string() };
            return record;
        }
    };
    let t = g.tokens;
    let readback = dev.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("loss-readback"),
        size: 4 * t as u64,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let (mut losses, mut step_ns) = (Vec::with_capacity(case.steps), Vec::with_capacity(case.steps));
    for _ in 0..case.steps {
        let mut enc = dev.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("train-step") });
        encode(&mut enc, &res.timed, 1, None);
        enc.copy_buffer_to_buffer(&res.buffers[plan.output], 4 * loss_at as u64, &readback, 0, 4 * t as u64);
        let t0 = clock::now();
        dev.queue.submit([enc.finish()]);
        let raw = match dev.read(&readback, 4 * t as u64).await {
            Ok(r) => r,
            Err(e) => {
                record.status = Status::Failed { reason: format!("training step {}: {e}", losses.len() + 1) };
                return record;
            }
        };
        step_ns.push(t0.elapsed().as_secs_f64() * 1e9);
        let per_token: &[f32] = bytemuck::cast_slice(&raw);
        losses.push(per_token.iter().map(|&x| f64::from(x)).sum::<f64>() / t as f64);
    }
    let timer = crate::schema::TimerInfo {
        kind: crate::schema::TimerKind::HostClock,
        resolution_ns: opts.host_resolution_ns,
        quantized: false,
    };
    finish(&mut record, g, prep, losses, (&step_ns, timer), device_bytes);
    if let Some(t) = record.timing.as_mut() {
        t.cold.pipeline_ns = Some(compiled.cold_ns);
        t.cold.warm_pipeline_ns = Some(compiled.warm_ns);
        t.cold.pipeline_cache = Some(compiled.cache);
    }
    record
}
