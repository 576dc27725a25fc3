// GELU (tanh and erf forms) with fp16 storage and f32 arithmetic; the body is gelu.inc.wgsl.
// requires: shader-f16
enable f16;
alias Elem = f16;
//!include gelu.inc.wgsl
