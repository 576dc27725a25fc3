// Softmax cross-entropy with its gradient, fp16 logits, gradient and losses, f32 arithmetic; the
// body is cross_entropy.inc.wgsl.
// requires: shader-f16
enable f16;
alias Elem = f16;
//!include cross_entropy.inc.wgsl
