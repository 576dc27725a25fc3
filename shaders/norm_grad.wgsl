// Backward of LayerNorm and RMSNorm over rows, given dy. With g = dy * gamma and n = cols:
//   layernorm: xh = (x - mean) inv,  dx = inv (g - mean(g) - xh mean(g xh)),
//              dgamma = sum_rows dy xh,  dbeta = sum_rows dy
//   rmsnorm:   inv = 1 / rms(x),     dx = inv (g - x inv^2 mean(g x)),  dgamma = sum_rows dy x inv
// Two entry points per norm: `*_rows` (one 256-invocation workgroup per row, as the forward)
// writes dx and each row's (mean, inv) to `stats`; `*_columns` (one invocation per column,
// grid-stride) then sums the parameter gradients over rows from those stats, a deterministic
// reduction with no atomics. Offsets place dx, dgamma and dbeta in `grad`.

struct Dims {
    rows: u32,
    cols: u32,
    eps: f32,
    dgamma_off: u32,
    dbeta_off: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;

const WG: u32 = 256u;
//!include reduce.inc.wgsl

@compute @workgroup_size(256, 1, 1)
fn layernorm_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    let row = wg.x + wg.y * 65535u;
    if (row >= dims.rows) {
        return;
    }
    let base = row * dims.cols;
    let n = f32(dims.cols);
    var s = 0.0;
    for (var c = lidx; c < dims.cols; c += WG) {
        s += x[base + c];
    }
    let mean = workgroup_sum(lidx, s) / n;
    var v = 0.0;
    for (var c = lidx; c < dims.cols; c += WG) {
        let d = x[base + c] - mean;
        v += d * d;
    }
    let inv = inverseSqrt(workgroup_sum(lidx, v) / n + dims.eps);
    var sg = 0.0;
    var sgx = 0.0;
    for (var c = lidx; c < dims.cols; c += WG) {
        let g = dy[base + c] * gamma[c];
        sg += g;
        sgx += g * (x[base + c] - mean) * inv;
    }
    let mg = workgroup_sum(lidx, sg) / n;
    let mgx = workgroup_sum(lidx, sgx) / n;
    for (var c = lidx; c < dims.cols; c += WG) {
        let g = dy[base + c] * gamma[c];
        let xh = (x[base + c] - mean) * inv;
        grad[base + c] = inv * (g - mg - xh * mgx);
    }
    if (lidx == 0u) {
        stats[2u * row] = mean;
        stats[2u * row + 1u] = inv;
    }
}

@compute @workgroup_size(256, 1, 1)
fn rmsnorm_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    let row = wg.x + wg.y * 65535u;
    if (row >= dims.rows) {
        return;
    }
    let base = row * dims.cols;
    let n = f32(dims.cols);
    var ss = 0.0;
    for (var c = lidx; c < dims.cols; c += WG) {
        ss += x[base + c] * x[base + c];
    }
    let inv = inverseSqrt(workgroup_sum(lidx, ss) / n + dims.eps);
    var sgx = 0.0;
    for (var c = lidx; c < dims.cols; c += WG) {
        sgx += dy[base + c] * gamma[c] * x[base + c];
    }
    let mgx = workgroup_sum(lidx, sgx) / n;
    for (var c = lidx; c < dims.cols; c += WG) {
        let g = dy[base + c] * gamma[c];
        grad[base + c] = inv * (g - x[base + c] * inv * inv * mgx);
    }
    if (lidx == 0u) {
        stats[2u * row] = 0.0;
        stats[2u * row + 1u] = inv;
    }
}

@compute @workgroup_size(256, 1, 1)
fn layernorm_columns(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var c = gid.x; c < dims.cols; c += nwg.x * 256u) {
        var dg = 0.0;
        var db = 0.0;
        for (var r = 0u; r < dims.rows; r++) {
            let d = dy[r * dims.cols + c];
            dg += d * (x[r * dims.cols + c] - stats[2u * r]) * stats[2u * r + 1u];
            db += d;
        }
        grad[dims.dgamma_off + c] = dg;
        grad[dims.dbeta_off + c] = db;
    }
}

@compute @workgroup_size(256, 1, 1)
fn rmsnorm_columns(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var c = gid.x; c < dims.cols; c += nwg.x * 256u) {
        var dg = 0.0;
        for (var r = 0u; r < dims.rows; r++) {
            dg += dy[r * dims.cols + c] * x[r * dims.cols + c] * stats[2u * r + 1u];
        }
        grad[dims.dgamma_off + c] = dg;
    }
}
