// Embedding lookup in f32 storage; the body is embedding.inc.wgsl.
alias Elem = f32;
//!include embedding.inc.wgsl
