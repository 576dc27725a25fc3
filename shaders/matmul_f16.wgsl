// Tiled, register-blocked GEMM with fp16 storage and f32 accumulation. Body in matmul.inc.wgsl.
// requires: shader-f16
enable f16;
alias Elem = f16;
//!include matmul.inc.wgsl
