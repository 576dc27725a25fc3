// SiLU and SwiGLU with fp16 storage and f32 arithmetic; the body is silu.inc.wgsl.
// requires: shader-f16
enable f16;
alias Elem = f16;
//!include silu.inc.wgsl
