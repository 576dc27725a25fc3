// The GELU kernels' interface (gelu.inc.wgsl, gelu_sigmoid.inc.wgsl): one plan binds either.
// `Elem` is the including file's storage type.

struct Dims {
    // Number of vec4 elements; the host pads the buffers to a multiple of 4.
    len4: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<vec4<Elem>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<Elem>>;
