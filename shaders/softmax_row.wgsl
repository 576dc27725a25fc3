// Row softmax, one invocation per row, in f32 storage; the body is softmax_row.inc.wgsl.
alias Elem = f32;
//!include softmax_row.inc.wgsl
