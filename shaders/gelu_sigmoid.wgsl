// GELU (tanh form) as x * sigmoid(2u), f32 storage; the body is gelu_sigmoid.inc.wgsl.
alias Elem = f32;
//!include gelu_sigmoid.inc.wgsl
