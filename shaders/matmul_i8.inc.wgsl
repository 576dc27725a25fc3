// int8 x int8 products of q8 weights, y (m, n) = x (m, k) W^T: the activations are quantised on
// the device, per block of 32 along k with an f32 scale (amax / 127, the q8_0 shape llama.cpp's
// CPU and GPU paths dot against q8_0 weights), then every block's dot is exact i32 arithmetic
// on packed bytes, scaled once by both blocks' scales. The activations' quantisation runs inside
// the timed pass because a model's activations arrive from the previous layer in f32.
// The including file defines dot_i8(a, b): the i32 dot of the four signed bytes of two words.
// Weights as matmul_q8.wgsl packs them: four two's-complement levels a word, element order.

struct Dims {
    m: u32,
    n: u32,
    k: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wq: array<u32>;
@group(0) @binding(3) var<storage, read> scales: array<u32>;
@group(0) @binding(4) var<storage, read_write> xq: array<u32>;
@group(0) @binding(5) var<storage, read_write> xs: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

//!include quant_scales.inc.wgsl

// One invocation per block of 32 activations (grid-stride): its amax, its scale, its 32 levels
// rounded to nearest-even (as the host reference rounds) and packed four to a word.
@compute @workgroup_size(256, 1, 1)
fn quantize_x(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let blocks = dims.m * (dims.k / 32u);
    for (var b = gid.x; b < blocks; b += nwg.x * 256u) {
        var amax = 0.0;
        for (var e = 0u; e < 32u; e++) {
            amax = max(amax, abs(x[b * 32u + e]));
        }
        let d = amax / 127.0;
        xs[b] = d;
        for (var w = 0u; w < 8u; w++) {
            var word = 0u;
            for (var e = 0u; e < 4u; e++) {
                let v = x[b * 32u + w * 4u + e];
                let level = select(0, clamp(i32(round(v / d)), -127, 127), d > 0.0);
                word |= (bitcast<u32>(level) & 0xffu) << (8u * e);
            }
            xq[b * 8u + w] = word;
        }
    }
}

// Block b of activation row i against block b of weight row j.
fn block_product(i: u32, j: u32, b: u32, blocks: u32) -> f32 {
    let xb = i * blocks + b;
    let wb = j * blocks + b;
    var isum = 0;
    for (var w = 0u; w < 8u; w++) {
        isum += dot_i8(xq[xb * 8u + w], wq[wb * 8u + w]);
    }
    return f32(isum) * xs[xb] * scale_of(wb);
}

// Prefill-shaped products: one invocation per output. Dispatch (ceil(n / 64), m, 1).
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
        acc += block_product(i, j, b, blocks);
    }
    y[i * dims.n + j] = acc;
}

const WG: u32 = 64u;
//!include reduce.inc.wgsl

// The decode step's product (m = 1): one workgroup per output column, its invocations striding
// over the column's blocks, then a tree sum. Dispatch rows_grid(n).
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
        acc += block_product(0u, j, b, blocks);
    }
    let total = workgroup_sum(lidx, acc);
    if (lidx == 0u) {
        y[j] = total;
    }
}
