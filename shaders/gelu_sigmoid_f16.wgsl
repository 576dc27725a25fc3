// GELU (tanh form) as x * sigmoid(2u), fp16 storage and f32 arithmetic; the body is
// gelu_sigmoid.inc.wgsl.
// requires: shader-f16
enable f16;
alias Elem = f16;
//!include gelu_sigmoid.inc.wgsl
