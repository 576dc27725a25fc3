// Attention over a paged KV cache in fp16 storage (q, K/V, the cache, o), f32 scores and
// arithmetic; the body is attention_cache.inc.wgsl.
// requires: shader-f16
enable f16;
alias Elem = f16;
//!include attention_cache.inc.wgsl
