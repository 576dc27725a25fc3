// The LM head and on-device argmax in f32 storage; the body is lm_head.inc.wgsl.
alias Elem = f32;
//!include lm_head.inc.wgsl
