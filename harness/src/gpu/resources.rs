//! A plan on a device: buffers (outputs poisoned with NaN), the shader module and pipelines (the
//! cold compile, timed), bind groups by reflected binding, and encoding repetitions of passes.

use std::collections::BTreeMap;

use wgpu::util::DeviceExt as _;

use crate::clock;
use crate::plan::{BufferInit, Pass, Plan};

use super::{GpuDevice, GpuError};

/// Resources of a plan on a device, ready to encode.
pub(super) struct Resources {
    pub(super) buffers: Vec<wgpu::Buffer>,
    /// Per pass (setup then timed), per dispatch: pipeline and bind group.
    pub(super) setup: Vec<Vec<(wgpu::ComputePipeline, wgpu::BindGroup, [u32; 3])>>,
    pub(super) timed: Vec<Vec<(wgpu::ComputePipeline, wgpu::BindGroup, [u32; 3])>>,
}

/// How a plan's pipelines were compiled: first (cold) and again at once (warm), host clock,
/// and the persistent cache's part.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Compiled {
    pub cold_ns: f64,
    pub warm_ns: f64,
    pub cache: crate::schema::PipelineCacheState,
}

pub(super) async fn prepare(dev: &GpuDevice, plan: &Plan) -> Result<(Resources, Compiled), GpuError> {
    plan.verify()?;
    let scope = dev.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let oom = dev.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let buffers: Vec<wgpu::Buffer> = plan
        .buffers
        .iter()
        .map(|b| {
            let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
            match &b.init {
                BufferInit::Uniform(bytes) => dev.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(&b.label),
                    contents: bytes,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                }),
                BufferInit::Storage(bytes) => dev.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(&b.label),
                    contents: bytes,
                    usage: storage,
                }),
                // All-ones bytes are NaN in f32 and f16: any element the kernel fails to write
                // fails the check.
                BufferInit::Output { bytes } => dev.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(&b.label),
                    contents: &vec![0xFF; *bytes as usize],
                    usage: storage,
                }),
                BufferInit::Scratch { bytes } => dev.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&b.label),
                    size: *bytes,
                    usage: storage,
                    mapped_at_creation: false,
                }),
            }
        })
        .collect();

    // Cold phase: module and pipelines, host clock. Buffers are excluded (upload is not compile).
    let t0 = clock::now();
    let mut modules: BTreeMap<&str, wgpu::ShaderModule> = BTreeMap::new();
    for shader in plan.shaders() {
        let module = dev.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(shader.file),
            source: wgpu::ShaderSource::Wgsl(shader.source.into()),
        });
        modules.insert(shader.file, module);
    }
    // Asked before creating: whether the cache held these pipelines when they were first made.
    let cache = dev.pipeline_cache_state(plan);
    let create = |modules: &BTreeMap<&str, wgpu::ShaderModule>| {
        let mut pipelines: BTreeMap<(&str, &str), wgpu::ComputePipeline> = BTreeMap::new();
        for pass in plan.setup.iter().chain(&plan.timed) {
            for d in &pass.dispatches {
                let file = plan.shader_of(d).file;
                pipelines.entry((file, d.entry_point)).or_insert_with(|| {
                    dev.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                        label: Some(d.entry_point),
                        layout: None,
                        module: &modules[file],
                        entry_point: Some(d.entry_point),
                        compilation_options: wgpu::PipelineCompilationOptions::default(),
                        cache: dev.pipeline_cache(),
                    })
                });
            }
        }
        pipelines
    };
    let pipelines = create(&modules);
    let cold_ns = t0.elapsed().as_secs_f64() * 1e9;
    dev.note_compiled(plan);
    // Warm: the same modules and pipelines again, now that the driver (and the cache) has them.
    let t1 = clock::now();
    let again: BTreeMap<&str, wgpu::ShaderModule> = plan
        .shaders()
        .iter()
        .map(|shader| {
            let module = dev.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(shader.file),
                source: wgpu::ShaderSource::Wgsl(shader.source.into()),
            });
            (shader.file, module)
        })
        .collect();
    drop(create(&again));
    let warm_ns = t1.elapsed().as_secs_f64() * 1e9;
    let compiled = Compiled { cold_ns, warm_ns, cache };

    let build = |passes: &[Pass]| {
        passes
            .iter()
            .map(|pass| {
                pass.dispatches
                    .iter()
                    .map(|d| {
                        let shader = plan.shader_of(d);
                        let pipeline = pipelines[&(shader.file, d.entry_point)].clone();
                        // `Plan::verify` has checked every name resolves and every used binding is bound.
                        let used = shader.entry_point(d.entry_point).map(|e| e.bindings).unwrap_or(&[]);
                        let entries: Vec<wgpu::BindGroupEntry> = d
                            .bindings
                            .iter()
                            .filter_map(|&(name, id)| Some((shader.global(name)?.binding, id)))
                            .filter(|(b, _)| used.contains(b))
                            .map(|(binding, id)| wgpu::BindGroupEntry {
                                binding,
                                resource: buffers[id].as_entire_binding(),
                            })
                            .collect();
                        let bg = dev.device.create_bind_group(&wgpu::BindGroupDescriptor {
                            label: Some(d.entry_point),
                            layout: &pipeline.get_bind_group_layout(0),
                            entries: &entries,
                        });
                        (pipeline, bg, d.workgroups)
                    })
                    .collect()
            })
            .collect()
    };
    let setup = build(&plan.setup);
    let timed = build(&plan.timed);
    let errors = [oom.pop().await, scope.pop().await];
    if let Some(e) = errors.into_iter().flatten().next() {
        return Err(GpuError::Wgpu { during: "creating buffers and pipelines", message: e.to_string() });
    }
    dev.check_fault("creating pipelines")?;
    Ok((Resources { buffers, setup, timed }, compiled))
}

pub(super) type Encoded<'a> = &'a [Vec<(wgpu::ComputePipeline, wgpu::BindGroup, [u32; 3])>];

/// Records `reps` executions of `passes`, each pass its own compute pass; with a query set,
/// each pass writes a timestamp at its beginning and end.
pub(super) fn encode(
    encoder: &mut wgpu::CommandEncoder,
    passes: Encoded<'_>,
    reps: u32,
    queries: Option<&wgpu::QuerySet>,
) {
    let mut q = 0u32;
    for _ in 0..reps {
        for pass in passes {
            let timestamp_writes = queries.map(|qs| wgpu::ComputePassTimestampWrites {
                query_set: qs,
                beginning_of_pass_write_index: Some(q),
                end_of_pass_write_index: Some(q + 1),
            });
            q += 2;
            // Separate dispatches in one pass are ordered by WebGPU's per-dispatch usage scopes
            // (storage writes are visible to the next dispatch), so repetitions never overlap.
            let mut cp = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes });
            for (pipeline, bg, wg) in pass {
                cp.set_pipeline(pipeline);
                cp.set_bind_group(0, bg, &[]);
                cp.dispatch_workgroups(wg[0], wg[1], wg[2]);
            }
        }
    }
}
