// Block-quantised matmul, y (m, n) = x (m, k) W^T, with W (n, k) held as blocks of 32 weights
// along k (the q8_0 / q4_0 block shape), each block with one f16 scale; weights are dequantised
// in registers and every sum is f32. The scales are decoded from their bits
// (quant_scales.inc.wgsl), so these kernels need no `shader-f16` and run on every adapter. The
// including file defines WPB (u32 words of packed levels per block) and block_dot(xb, wb): the dot of the
// 32 x values from xb with the levels of the block starting at word wb.

struct Dims {
    m: u32,
    n: u32,
    k: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wq: array<u32>;
@group(0) @binding(3) var<storage, read> scales: array<u32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

//!include quant_scales.inc.wgsl

// Prefill-shaped products: one invocation per output, 64 neighbouring columns per workgroup
// share their row of x. Dispatch (ceil(n / 64), m, 1).
@compute @workgroup_size(64, 1, 1)
fn gemm(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    let i = gid.y;
    if (j >= dims.n || i >= dims.m) {
        return;
    }
    let blocks = dims.k / 32u;
    var acc = 0.0;
    for (var b = 0u; b < blocks; b++) {
        let s = j * blocks + b;
        acc += scale_of(s) * block_dot(i * dims.k + b * 32u, s * WPB);
    }
    y[i * dims.n + j] = acc;
}

const WG: u32 = 64u;
//!include reduce.inc.wgsl

// The decode step's product (m = 1): one 64-invocation workgroup per output column, its
// invocations striding over the column's blocks, then a tree sum. Dispatch rows_grid(n).
@compute @workgroup_size(64, 1, 1)
fn gemv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    let j = wg.x + wg.y * 65535u;
    // Uniform per workgroup, so the reduction's barriers stay in uniform control flow.
    if (j >= dims.n) {
        return;
    }
    let blocks = dims.k / 32u;
    var acc = 0.0;
    for (var b = lidx; b < blocks; b += WG) {
        let s = j * blocks + b;
        acc += scale_of(s) * block_dot(b * 32u, s * WPB);
    }
    let total = workgroup_sum(lidx, acc);
    if (lidx == 0u) {
        y[j] = total;
    }
}
