// Practical fp16 FMA peak (f16 arithmetic, f32 storage); the body is peak_fma.inc.wgsl.
// requires: shader-f16
enable f16;
alias Acc = f16;
//!include peak_fma.inc.wgsl
