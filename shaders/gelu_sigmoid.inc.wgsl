// GELU, tanh form, computed as x * sigmoid(2u) = x / (1 + exp(-2u)) with
// u = sqrt(2/pi) (x + 0.044715 x^3): the same function as gelu.inc.wgsl's gelu_tanh, one exp
// and one division instead of a tanh, which some compilers (SwiftShader's among them) expand
// into a longer sequence. Large |u| is safe without a clamp: exp(-2u) overflows to inf and
// x / inf is 0, or underflows to 0 and the result is x. Same bindings and grid-stride loop as
// gelu.inc.wgsl; storage is `Elem`, arithmetic f32.

//!include gelu_io.inc.wgsl

const TWO_SQRT_2_OVER_PI: f32 = 1.5957691216057308;

@compute @workgroup_size(256, 1, 1)
fn gelu_tanh(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let stride = nwg.x * 256u;
    for (var i = gid.x; i < dims.len4; i += stride) {
        let v = vec4<f32>(x[i]);
        let two_u = TWO_SQRT_2_OVER_PI * (v + 0.044715 * v * v * v);
        y[i] = vec4<Elem>(v / (1.0 + exp(-two_u)));
    }
}
