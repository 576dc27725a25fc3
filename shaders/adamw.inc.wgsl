// One AdamW step (decoupled weight decay, bias-corrected moments), elementwise:
//   m' = b1 m + (1 - b1) g,   v' = b2 v + (1 - b2) g^2
//   p' = p - lr (m' c1 / (sqrt(v' c2) + eps) + wd p),   c1 = 1 / (1 - b1^t), c2 = 1 / (1 - b2^t)
// The host folds the step number into c1 and c2. This entry point reads the state and writes
// p', m', v' to `out` (at 0, len, 2 len), so re-running it is idempotent and its result is
// checked whole; a training step updates in place with adamw_step.wgsl. The parameters and
// gradients are `Elem` (f32, or f16 in adamw_f16.wgsl: fp16 weights and gradients with f32
// moments), aliased by the including file; the moments and the arithmetic are f32.

struct Dims {
    len: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    c1: f32,
    c2: f32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> p: array<Elem>;
@group(0) @binding(2) var<storage, read> g: array<Elem>;
@group(0) @binding(3) var<storage, read> m: array<f32>;
@group(0) @binding(4) var<storage, read> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

//!include adamw_update.inc.wgsl

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < dims.len; i += nwg.x * 256u) {
        let s = adamw(f32(p[i]), f32(g[i]), m[i], v[i], dims.c1, dims.c2);
        out[i] = s.p;
        out[dims.len + i] = s.m;
        out[2u * dims.len + i] = s.v;
    }
}
