// The GEMM kernels' interface (matmul.inc.wgsl, matmul_direct.inc.wgsl): one plan binds either.
// `Elem` is the including file's storage type; store_row writes one accumulator row of a 4x4
// block, clipped to C's edges.

struct Dims {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> a: array<Elem>;
@group(0) @binding(2) var<storage, read> b: array<Elem>;
@group(0) @binding(3) var<storage, read_write> c: array<Elem>;

fn store_row(base: u32, row: u32, col: u32, v: vec4<f32>) {
    if (row >= dims.m) {
        return;
    }
    let at = base + row * dims.n + col;
    for (var i = 0u; i < 4u; i++) {
        if (col + i < dims.n) {
            c[at + i] = Elem(v[i]);
        }
    }
}
