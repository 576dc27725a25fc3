// One AdamW step out of place in f32 storage; the body is adamw.inc.wgsl.
alias Elem = f32;
//!include adamw.inc.wgsl
