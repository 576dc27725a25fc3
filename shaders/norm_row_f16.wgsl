// LayerNorm and RMSNorm, one invocation per row, fp16 storage and f32 arithmetic; the body is
// norm_row.inc.wgsl.
// requires: shader-f16
enable f16;
alias Elem = f16;
//!include norm_row.inc.wgsl
