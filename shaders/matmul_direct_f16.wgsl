// Register-blocked GEMM without workgroup memory, fp16 storage with f32 accumulation. Body in
// matmul_direct.inc.wgsl.
// requires: shader-f16
enable f16;
alias Elem = f16;
//!include matmul_direct.inc.wgsl
