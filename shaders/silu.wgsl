// SiLU and SwiGLU in f32 storage; the body is silu.inc.wgsl.
alias Elem = f32;
//!include silu.inc.wgsl
