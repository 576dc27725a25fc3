// Backward of the elementwise activations, dx = dy f'(x), grid-stride over `len` elements:
//   gelu_tanh: 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2), t = tanh(c (x + a x^3))
//   gelu_erf:  Phi(x) + x phi(x)
//   silu:      s (1 + x (1 - s)), s = sigmoid(x)
//   swiglu:    y = silu(gate) up: swiglu_gate writes dgate = dy up silu'(gate), swiglu_up
//              dup = dy silu(gate)
// `x` is the activation's input (the gate for SwiGLU). Each writes `grad` from `off`, so
// SwiGLU's two gradients can share one buffer or have one each.

struct Dims {
    len: u32,
    off: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const INV_SQRT_2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;

// Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7), as the forward GELU uses.
fn erf1(v: f32) -> f32 {
    let a = abs(v);
    let t = 1.0 / (1.0 + 0.3275911 * a);
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    return sign(v) * (1.0 - poly * exp(-a * a));
}

fn sigmoid1(v: f32) -> f32 {
    return 1.0 / (1.0 + exp(-v));
}

@compute @workgroup_size(256, 1, 1)
fn gelu_tanh(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < dims.len; i += nwg.x * 256u) {
        let v = x[i];
        // Clamped: tanh saturates in f32 beyond |u| = 9 and some drivers overflow exp(2u).
        let t = tanh(clamp(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v), -15.0, 15.0));
        let d = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v);
        grad[dims.off + i] = dy[i] * d;
    }
}

@compute @workgroup_size(256, 1, 1)
fn gelu_erf(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < dims.len; i += nwg.x * 256u) {
        let v = x[i];
        let d = 0.5 * (1.0 + erf1(v * INV_SQRT_2)) + v * exp(-0.5 * v * v) * INV_SQRT_2PI;
        grad[dims.off + i] = dy[i] * d;
    }
}

@compute @workgroup_size(256, 1, 1)
fn silu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < dims.len; i += nwg.x * 256u) {
        let v = x[i];
        let s = sigmoid1(v);
        grad[dims.off + i] = dy[i] * s * (1.0 + v * (1.0 - s));
    }
}

@compute @workgroup_size(256, 1, 1)
fn swiglu_gate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < dims.len; i += nwg.x * 256u) {
        let a = x[i];
        let s = sigmoid1(a);
        grad[dims.off + i] = dy[i] * up[i] * s * (1.0 + a * (1.0 - s));
    }
}

@compute @workgroup_size(256, 1, 1)
fn swiglu_up(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < dims.len; i += nwg.x * 256u) {
        grad[dims.off + i] = dy[i] * x[i] * sigmoid1(x[i]);
    }
}
