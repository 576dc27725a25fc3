// Row softmax in f32 storage; the body is softmax.inc.wgsl.
alias Elem = f32;
//!include softmax.inc.wgsl
