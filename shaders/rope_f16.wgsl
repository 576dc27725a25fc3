// RoPE (the cos/sin tables stay f32) with fp16 storage and f32 arithmetic; the body is rope.inc.wgsl.
// requires: shader-f16
enable f16;
alias Elem = f16;
//!include rope.inc.wgsl
