// Tiled, register-blocked fp32 GEMM (batched). Body in matmul.inc.wgsl.
alias Elem = f32;
//!include matmul.inc.wgsl
