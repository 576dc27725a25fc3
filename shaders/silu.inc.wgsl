// SiLU and SwiGLU, elementwise (the LLaMA-family MLP activations):
//   silu:   y = x * sigmoid(x) = x / (1 + exp(-x))
//   swiglu: y = silu(gate) * up   (gate and up are the two halves of the MLP's first projection)
// For very negative x, exp(-x) overflows to inf and x / inf is -0, the right limit, so no clamp
// is needed. vec4 loads and a grid-stride loop cover any length.
// Storage is `Elem` (f32 or f16, aliased by the including file); arithmetic is f32 either way.

struct Dims {
    // Number of vec4 elements; the host pads the buffers to a multiple of 4.
    len4: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<vec4<Elem>>;
@group(0) @binding(2) var<storage, read> up: array<vec4<Elem>>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<Elem>>;

fn silu4(v: vec4<f32>) -> vec4<f32> {
    return v / (1.0 + exp(-v));
}

@compute @workgroup_size(256, 1, 1)
fn silu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let stride = nwg.x * 256u;
    for (var i = gid.x; i < dims.len4; i += stride) {
        y[i] = vec4<Elem>(silu4(vec4<f32>(x[i])));
    }
}

@compute @workgroup_size(256, 1, 1)
fn swiglu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let stride = nwg.x * 256u;
    for (var i = gid.x; i < dims.len4; i += stride) {
        y[i] = vec4<Elem>(silu4(vec4<f32>(x[i])) * vec4<f32>(up[i]));
    }
}
