// RoPE (the cos/sin tables stay f32) in f32 storage; the body is rope.inc.wgsl.
alias Elem = f32;
//!include rope.inc.wgsl
