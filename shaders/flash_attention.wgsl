// Flash-style causal attention in f32 storage; the body is flash_attention.inc.wgsl.
alias Elem = f32;
//!include flash_attention.inc.wgsl
