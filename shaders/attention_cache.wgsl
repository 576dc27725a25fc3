// Attention over a paged KV cache in f32 storage; the body is attention_cache.inc.wgsl.
alias Elem = f32;
//!include attention_cache.inc.wgsl
