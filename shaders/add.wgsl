// Broadcast add in f32 storage; the body is add.inc.wgsl.
alias Elem = f32;
//!include add.inc.wgsl
