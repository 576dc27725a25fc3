// q8 block-quantised GEMM and GEMV: 32 signed 8-bit levels per block, four to a word in element
// order (element e at bits 8e, two's complement), w = scale * level. Body in
// matmul_quant.inc.wgsl.

const WPB: u32 = 8u;

fn block_dot(xb: u32, wb: u32) -> f32 {
    var acc = 0.0;
    for (var w = 0u; w < WPB; w++) {
        // extractBits on i32 sign-extends each byte.
        let word = bitcast<i32>(wq[wb + w]);
        let xo = xb + w * 4u;
        acc += x[xo] * f32(extractBits(word, 0u, 8u)) + x[xo + 1u] * f32(extractBits(word, 8u, 8u))
            + x[xo + 2u] * f32(extractBits(word, 16u, 8u)) + x[xo + 3u] * f32(extractBits(word, 24u, 8u));
    }
    return acc;
}

//!include matmul_quant.inc.wgsl
