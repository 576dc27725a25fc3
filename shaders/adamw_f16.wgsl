// One AdamW step out of place, fp16 parameters and gradients, f32 moments and arithmetic; the
// body is adamw.inc.wgsl.
// requires: shader-f16
enable f16;
alias Elem = f16;
//!include adamw.inc.wgsl
