// 1-D convolution with bias in f32 storage; the body is conv1d.inc.wgsl.
alias Elem = f32;
//!include conv1d.inc.wgsl
