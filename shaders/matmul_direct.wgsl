// Register-blocked fp32 GEMM without workgroup memory. Body in matmul_direct.inc.wgsl.
alias Elem = f32;
//!include matmul_direct.inc.wgsl
