// Numerically stable row softmax: y[r, i] = exp(x[r, i] - max_r) / sum_j exp(x[r, j] - max_r).
// One 256-invocation workgroup per row; the max and the sum are tree reductions in workgroup
// memory, so any row length works and each element is read twice and written once. Storage is
// `Elem` (f32 or f16, aliased by the including file); arithmetic is f32 either way.

//!include softmax_io.inc.wgsl

const WG: u32 = 256u;
//!include reduce.inc.wgsl

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    // Rows beyond 65535 wrap into y: the host dispatches (min(rows, 65535), ceil(rows / 65535)).
    let row = wg.x + wg.y * 65535u;
    // Uniform per workgroup, so returning early keeps barriers in uniform control flow.
    if (row >= dims.rows) {
        return;
    }
    let base = row * dims.cols;

    var m = -3.402823e38;
    for (var i = lidx; i < dims.cols; i += WG) {
        m = max(m, f32(x[base + i]));
    }
    m = workgroup_max(lidx, m);

    var s = 0.0;
    for (var i = lidx; i < dims.cols; i += WG) {
        s += exp(f32(x[base + i]) - m);
    }
    s = workgroup_sum(lidx, s);

    let inv = 1.0 / s;
    for (var i = lidx; i < dims.cols; i += WG) {
        y[base + i] = Elem(exp(f32(x[base + i]) - m) * inv);
    }
}
