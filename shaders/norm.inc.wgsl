// LayerNorm and RMSNorm over the last dimension, with learned scale (gamma) and, for LayerNorm,
// shift (beta). One 256-invocation workgroup per row with tree reductions in workgroup memory.
// LayerNorm uses two passes (mean, then the mean of squared deviations) rather than E[x^2]-E[x]^2,
// which cancels catastrophically for rows with a large mean. Storage is `Elem` (f32 or f16,
// aliased by the including file); arithmetic is f32 either way.

//!include norm_io.inc.wgsl

const WG: u32 = 256u;
//!include reduce.inc.wgsl

fn row_of(wg: vec3<u32>) -> u32 {
    // The host dispatches (min(rows, 65535), ceil(rows / 65535)) workgroups.
    return wg.x + wg.y * 65535u;
}

@compute @workgroup_size(256, 1, 1)
fn layernorm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    let row = row_of(wg);
    if (row >= dims.rows) {
        return;
    }
    let base = row * dims.cols;
    let n = f32(dims.cols);

    var s = 0.0;
    for (var i = lidx; i < dims.cols; i += WG) {
        s += f32(x[base + i]);
    }
    let mean = workgroup_sum(lidx, s) / n;

    var q = 0.0;
    for (var i = lidx; i < dims.cols; i += WG) {
        let d = f32(x[base + i]) - mean;
        q += d * d;
    }
    let inv_std = inverseSqrt(workgroup_sum(lidx, q) / n + dims.eps);

    for (var i = lidx; i < dims.cols; i += WG) {
        y[base + i] = Elem((f32(x[base + i]) - mean) * inv_std * f32(gamma[i]) + f32(beta[i]));
    }
}

@compute @workgroup_size(256, 1, 1)
fn rmsnorm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    let row = row_of(wg);
    if (row >= dims.rows) {
        return;
    }
    let base = row * dims.cols;

    var q = 0.0;
    for (var i = lidx; i < dims.cols; i += WG) {
        let v = f32(x[base + i]);
        q += v * v;
    }
    let inv_rms = inverseSqrt(workgroup_sum(lidx, q) / f32(dims.cols) + dims.eps);

    for (var i = lidx; i < dims.cols; i += WG) {
        y[base + i] = Elem(f32(x[base + i]) * inv_rms * f32(gamma[i]));
    }
}
