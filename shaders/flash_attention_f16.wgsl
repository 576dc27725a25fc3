// Flash-style causal attention with fp16 storage and f32 arithmetic; the body is flash_attention.inc.wgsl.
// requires: shader-f16
enable f16;
alias Elem = f16;
//!include flash_attention.inc.wgsl
