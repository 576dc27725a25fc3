// Backward of the row softmax from its output y: dx = y (dy - sum(dy y)). One 256-invocation
// workgroup per row, as the forward; the dot product is a workgroup tree reduction.

struct Dims {
    rows: u32,
    cols: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;

const WG: u32 = 256u;
//!include reduce.inc.wgsl

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    let row = wg.x + wg.y * 65535u;
    if (row >= dims.rows) {
        return;
    }
    let base = row * dims.cols;
    var s = 0.0;
    for (var c = lidx; c < dims.cols; c += WG) {
        s += dy[base + c] * y[base + c];
    }
    s = workgroup_sum(lidx, s);
    for (var c = lidx; c < dims.cols; c += WG) {
        grad[base + c] = y[base + c] * (dy[base + c] - s);
    }
}
