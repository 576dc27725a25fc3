// A training step's AdamW update, in place over a parameter tensor (from `p_off`) and its two
// moments, the gradient read from `g_off` (so a norm's dgamma and dbeta stay in the one buffer
// its backward writes). The step number lives on the device in `counter`: `tick` advances it
// once at the start of each step, and the bias corrections follow from it, so one recorded
// step runs any number of times (the math is adamw_update.inc.wgsl; adamw.wgsl is the checked,
// out-of-place catalogue kernel).

struct Dims {
    len: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    p_off: u32,
    g_off: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> counter: array<u32>;

//!include adamw_update.inc.wgsl

@compute @workgroup_size(1, 1, 1)
fn tick() {
    counter[0] += 1u;
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = f32(counter[0]);
    let c1 = 1.0 / (1.0 - pow(dims.beta1, t));
    let c2 = 1.0 / (1.0 - pow(dims.beta2, t));
    for (var i = gid.x; i < dims.len; i += nwg.x * 256u) {
        let j = dims.p_off + i;
        let s = adamw(p[j], g[dims.g_off + i], m[j], v[j], c1, c2);
        p[j] = s.p;
        m[j] = s.m;
        v[j] = s.v;
    }
}
