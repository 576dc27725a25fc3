// Paged KV-cache decode over an fp16 cache (half the memory and bandwidth), f32 arithmetic;
// the body is kvcache.inc.wgsl.
// requires: shader-f16
enable f16;
alias Elem = f16;
//!include kvcache.inc.wgsl
