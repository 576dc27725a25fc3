// GELU, elementwise, in its two common forms:
//   gelu_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))   (GPT-2, BERT "approximate")
//   gelu_erf:  0.5 x (1 + erf(x / sqrt(2)))                       (PyTorch default, exact)
// WGSL has no erf; we use Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7), below f32 rounding
// of the final product for |x| of interest. vec4 loads and a grid-stride loop cover any length. Storage is
// `Elem` (f32 or f16, aliased by the including file); arithmetic is f32 either way.

//!include gelu_io.inc.wgsl

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const INV_SQRT_2: f32 = 0.7071067811865476;

fn erf4(v: vec4<f32>) -> vec4<f32> {
    let s = sign(v);
    let a = abs(v);
    let t = 1.0 / (1.0 + 0.3275911 * a);
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    return s * (1.0 - poly * exp(-a * a));
}

fn tanh4(v: vec4<f32>) -> vec4<f32> {
    // Clamped: tanh saturates to +-1 in f32 beyond |x| = 9, and some drivers evaluate tanh via
    // exp(2x), which overflows to inf/inf = NaN for large x.
    return tanh(clamp(v, vec4<f32>(-15.0), vec4<f32>(15.0)));
}

@compute @workgroup_size(256, 1, 1)
fn gelu_tanh(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let stride = nwg.x * 256u;
    for (var i = gid.x; i < dims.len4; i += stride) {
        let v = vec4<f32>(x[i]);
        let inner = SQRT_2_OVER_PI * (v + 0.044715 * v * v * v);
        y[i] = vec4<Elem>(0.5 * v * (1.0 + tanh4(inner)));
    }
}

@compute @workgroup_size(256, 1, 1)
fn gelu_erf(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let stride = nwg.x * 256u;
    for (var i = gid.x; i < dims.len4; i += stride) {
        let v = vec4<f32>(x[i]);
        y[i] = vec4<Elem>(0.5 * v * (1.0 + erf4(v * INV_SQRT_2)));
    }
}
