// Broadcast add with fp16 storage and f32 arithmetic; the body is add.inc.wgsl.
// requires: shader-f16
enable f16;
alias Elem = f16;
//!include add.inc.wgsl
