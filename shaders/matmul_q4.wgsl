// q4 block-quantised GEMM and GEMV: 32 unsigned 4-bit levels per block, eight to a word in
// element order (element e at bits 4e), w = scale * (level - 8). Body in matmul_quant.inc.wgsl.

const WPB: u32 = 4u;

fn block_dot(xb: u32, wb: u32) -> f32 {
    var acc = 0.0;
    for (var w = 0u; w < WPB; w++) {
        let word = wq[wb + w];
        let xo = xb + w * 8u;
        for (var e = 0u; e < 8u; e++) {
            acc += x[xo + e] * (f32(extractBits(word, e * 4u, 4u)) - 8.0);
        }
    }
    return acc;
}

//!include matmul_quant.inc.wgsl
