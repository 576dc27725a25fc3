// LayerNorm and RMSNorm, one invocation per row: no workgroup memory and no barriers, which CPU
// adapters run far faster than norm.wgsl's workgroup reductions and GPUs far slower (loads do
// not coalesce). Same bindings and the same two-pass statistics as norm.wgsl, so the autotuner
// can swap one for the other. Storage is `Elem` (f32 or f16, aliased by the including file);
// arithmetic is f32 either way.

//!include norm_io.inc.wgsl

const ROWS_PER_WG: u32 = 64u;

fn row_of(wg: vec3<u32>, lidx: u32) -> u32 {
    // The host dispatches ceil(rows / 64) workgroups, spread over y past 65535.
    return (wg.x + wg.y * 65535u) * ROWS_PER_WG + lidx;
}

@compute @workgroup_size(64, 1, 1)
fn layernorm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    let row = row_of(wg, lidx);
    if (row >= dims.rows) {
        return;
    }
    let base = row * dims.cols;
    let n = f32(dims.cols);

    var s = 0.0;
    for (var i = 0u; i < dims.cols; i++) {
        s += f32(x[base + i]);
    }
    let mean = s / n;

    var q = 0.0;
    for (var i = 0u; i < dims.cols; i++) {
        let d = f32(x[base + i]) - mean;
        q += d * d;
    }
    let inv_std = inverseSqrt(q / n + dims.eps);

    for (var i = 0u; i < dims.cols; i++) {
        y[base + i] = Elem((f32(x[base + i]) - mean) * inv_std * f32(gamma[i]) + f32(beta[i]));
    }
}

@compute @workgroup_size(64, 1, 1)
fn rmsnorm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    let row = row_of(wg, lidx);
    if (row >= dims.rows) {
        return;
    }
    let base = row * dims.cols;

    var q = 0.0;
    for (var i = 0u; i < dims.cols; i++) {
        let v = f32(x[base + i]);
        q += v * v;
    }
    let inv_rms = inverseSqrt(q / f32(dims.cols) + dims.eps);

    for (var i = 0u; i < dims.cols; i++) {
        y[base + i] = Elem(f32(x[base + i]) * inv_rms * f32(gamma[i]));
    }
}
