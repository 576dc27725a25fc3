// Embedding lookup with fp16 storage and f32 arithmetic; the body is embedding.inc.wgsl.
// requires: shader-f16
enable f16;
alias Elem = f16;
//!include embedding.inc.wgsl
