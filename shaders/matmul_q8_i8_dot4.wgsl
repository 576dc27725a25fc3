// requires: packed_4x8_integer_dot_product
// int8 x int8 q8 GEMM and GEMV with WGSL's dot4I8Packed (the packed_4x8_integer_dot_product
// language extension): one builtin per word, which drivers with integer dot-product
// instructions (SPIR-V DotProduct, DP4a) run as one instruction. Body in matmul_i8.inc.wgsl.

fn dot_i8(a: u32, b: u32) -> i32 {
    return dot4I8Packed(a, b);
}

//!include matmul_i8.inc.wgsl
