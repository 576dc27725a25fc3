// Row softmax with fp16 storage and f32 arithmetic; the body is softmax.inc.wgsl.
// requires: shader-f16
enable f16;
alias Elem = f16;
//!include softmax.inc.wgsl
