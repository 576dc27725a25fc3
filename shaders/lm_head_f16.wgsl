// The LM head and on-device argmax with fp16 storage and f32 arithmetic; the body is lm_head.inc.wgsl.
// requires: shader-f16
enable f16;
alias Elem = f16;
//!include lm_head.inc.wgsl
