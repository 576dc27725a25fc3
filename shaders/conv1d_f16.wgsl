// 1-D convolution with bias with fp16 storage and f32 arithmetic; the body is conv1d.inc.wgsl.
// requires: shader-f16
enable f16;
alias Elem = f16;
//!include conv1d.inc.wgsl
