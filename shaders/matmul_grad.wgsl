// The two gradients of a linear layer y = x w (x (m, k), w (k, n), y (m, n)), given dy:
//   grad_input:  dx = dy w^T  (m, k)
//   grad_weight: dw = x^T dy  (k, n)
// Both are 16 x 16 tiled products reading their operands transposed in place (no transpose
// pass), accumulated in f32. Each writes at its own offset of `grad`, so one buffer can hold
// both (the catalogue checks dx then dw) or a training step can give each its own buffer.

struct Dims {
    m: u32,
    k: u32,
    n: u32,
    // Where each entry point's result starts in `grad`, in elements.
    off: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

const T: u32 = 16u;
var<workgroup> ta: array<f32, 256>;
var<workgroup> tb: array<f32, 256>;

// dx[i, p] = sum_j dy[i, j] w[p, j]: workgroup (x: p tile, y: i tile), tiles over j.
@compute @workgroup_size(16, 16, 1)
fn grad_input(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = wg.y * T + lid.y;
    let p = wg.x * T + lid.x;
    // The w row this invocation loads: the tile's p rows, indexed by lid.y.
    let p_load = wg.x * T + lid.y;
    var acc = 0.0;
    for (var t = 0u; t < dims.n; t += T) {
        let j = t + lid.x;
        var a = 0.0;
        if (i < dims.m && j < dims.n) {
            a = dy[i * dims.n + j];
        }
        var b = 0.0;
        if (p_load < dims.k && j < dims.n) {
            b = w[p_load * dims.n + j];
        }
        ta[lid.y * T + lid.x] = a;
        tb[lid.y * T + lid.x] = b;
        workgroupBarrier();
        for (var q = 0u; q < T; q++) {
            acc += ta[lid.y * T + q] * tb[lid.x * T + q];
        }
        workgroupBarrier();
    }
    if (i < dims.m && p < dims.k) {
        grad[dims.off + i * dims.k + p] = acc;
    }
}

// dw[p, j] = sum_i x[i, p] dy[i, j]: workgroup (x: j tile, y: p tile), tiles over i.
@compute @workgroup_size(16, 16, 1)
fn grad_weight(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let p = wg.y * T + lid.y;
    let j = wg.x * T + lid.x;
    // The x column this invocation loads: the tile's p columns, indexed by lid.y.
    var acc = 0.0;
    for (var t = 0u; t < dims.m; t += T) {
        let i_a = t + lid.x;
        var a = 0.0;
        if (i_a < dims.m && p < dims.k) {
            a = x[i_a * dims.k + p];
        }
        let i_b = t + lid.y;
        var b = 0.0;
        if (i_b < dims.m && j < dims.n) {
            b = dy[i_b * dims.n + j];
        }
        // ta[p_local][i_local], tb[i_local][j_local]
        ta[lid.y * T + lid.x] = a;
        tb[lid.y * T + lid.x] = b;
        workgroupBarrier();
        for (var q = 0u; q < T; q++) {
            acc += ta[lid.y * T + q] * tb[q * T + lid.x];
        }
        workgroupBarrier();
    }
    if (p < dims.k && j < dims.n) {
        grad[dims.off + p * dims.n + j] = acc;
    }
}
