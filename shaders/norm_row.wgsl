// LayerNorm and RMSNorm, one invocation per row, in f32 storage; the body is norm_row.inc.wgsl.
alias Elem = f32;
//!include norm_row.inc.wgsl
