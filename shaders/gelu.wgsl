// GELU (tanh and erf forms) in f32 storage; the body is gelu.inc.wgsl.
alias Elem = f32;
//!include gelu.inc.wgsl
