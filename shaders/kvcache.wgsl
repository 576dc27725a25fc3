// Paged KV-cache decode in f32 storage; the body is kvcache.inc.wgsl.
alias Elem = f32;
//!include kvcache.inc.wgsl
