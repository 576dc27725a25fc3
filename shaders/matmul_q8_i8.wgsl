// int8 x int8 q8 GEMM and GEMV in core WGSL: each byte sign-extended with extractBits and
// multiplied in i32. Runs on every adapter; the fallback where `dot4I8Packed` is missing or
// slower. Body in matmul_i8.inc.wgsl.

fn dot_i8(a: u32, b: u32) -> i32 {
    let x = bitcast<i32>(a);
    let y = bitcast<i32>(b);
    return extractBits(x, 0u, 8u) * extractBits(y, 0u, 8u) + extractBits(x, 8u, 8u) * extractBits(y, 8u, 8u)
        + extractBits(x, 16u, 8u) * extractBits(y, 16u, 8u) + extractBits(x, 24u, 8u) * extractBits(y, 24u, 8u);
}

//!include matmul_i8.inc.wgsl
