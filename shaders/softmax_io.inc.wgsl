// The row softmax kernels' interface (softmax.inc.wgsl, softmax_row.inc.wgsl): one plan binds
// either. `Elem` is the including file's storage type.

struct Dims {
    rows: u32,
    cols: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<Elem>;
@group(0) @binding(2) var<storage, read_write> y: array<Elem>;
