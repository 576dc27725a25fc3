// Practical fp32 FMA peak; the body is peak_fma.inc.wgsl.
alias Acc = f32;
//!include peak_fma.inc.wgsl
