// The norm kernels' interface (norm.inc.wgsl, norm_row.inc.wgsl): one plan binds either.
// `Elem` is the including file's storage type.

struct Dims {
    rows: u32,
    cols: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<Elem>;
@group(0) @binding(2) var<storage, read> gamma: array<Elem>;
@group(0) @binding(3) var<storage, read> beta: array<Elem>;
@group(0) @binding(4) var<storage, read_write> y: array<Elem>;
