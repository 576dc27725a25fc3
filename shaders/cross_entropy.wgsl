// Softmax cross-entropy with its gradient in f32 storage; the body is cross_entropy.inc.wgsl.
alias Elem = f32;
//!include cross_entropy.inc.wgsl
