// LayerNorm and RMSNorm in f32 storage; the body is norm.inc.wgsl.
alias Elem = f32;
//!include norm.inc.wgsl
