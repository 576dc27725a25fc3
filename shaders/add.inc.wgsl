// Elementwise add with b repeated along a: y[i] = a[i] + b[i % b_len]. With b as long as a it is
// the residual connection of every transformer block; with b one row long it adds a linear
// layer's bias to each row (the GEMM kernels stay bias-free), and with b a table it adds
// positions. One invocation per element, grid-stride.
// Storage is `Elem` (f32 or f16, aliased by the including file); arithmetic is f32 either way.

struct Dims {
    len: u32,
    b_len: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> a: array<Elem>;
@group(0) @binding(2) var<storage, read> b: array<Elem>;
@group(0) @binding(3) var<storage, read_write> y: array<Elem>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < dims.len; i += nwg.x * 256u) {
        y[i] = Elem(f32(a[i]) + f32(b[i % dims.b_len]));
    }
}
