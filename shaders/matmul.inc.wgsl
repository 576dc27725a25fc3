// Shared body of the tiled GEMM kernels; included by matmul_f32.wgsl and matmul_f16.wgsl, which
// define `Elem` (the storage type). Accumulation is always f32: fp16 storage halves the bytes moved,
// while f32 accumulators keep K-long dot products accurate (the usual mixed-precision GEMM contract).
//
// C[b] = A[b] (m x k) * B[b] (k x n), all row-major.
// Each 16x16 workgroup computes a 64x64 tile of C; each invocation a 4x4 register block, so each
// workgroup-memory read feeds 4 FMAs and each barrier pair covers 16 * 16 FMAs per invocation.

//!include matmul_io.inc.wgsl

const TILE: u32 = 64u;
const TILE_K: u32 = 16u;

// a_tile[kk][r4] holds rows 4*r4..4*r4+3 of column kk: one vec4 read gives a thread its 4 rows.
var<workgroup> a_tile: array<array<vec4<Elem>, 16>, TILE_K>;
// b_tile[kk][c4] holds columns 4*c4..4*c4+3 of row kk.
var<workgroup> b_tile: array<array<vec4<Elem>, 16>, TILE_K>;

fn load_a(base: u32, row: u32, col: u32) -> Elem {
    if (row < dims.m && col < dims.k) {
        return a[base + row * dims.k + col];
    }
    return Elem(0.0);
}

fn load_b(base: u32, row: u32, col: u32) -> Elem {
    if (row < dims.k && col < dims.n) {
        return b[base + row * dims.n + col];
    }
    return Elem(0.0);
}

@compute @workgroup_size(16, 16, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) lidx: u32,
) {
    let a_base = wg.z * dims.m * dims.k;
    let b_base = wg.z * dims.k * dims.n;
    let c_base = wg.z * dims.m * dims.n;
    let row0 = wg.y * TILE;
    let col0 = wg.x * TILE;

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);

    // Loader coordinates: neighbouring invocations read neighbouring k (A) or columns (B), so
    // global loads coalesce.
    let a_kk = lidx % TILE_K;
    let a_r4 = lidx / TILE_K;
    let b_kk = lidx / 16u;
    let b_c4 = lidx % 16u;

    for (var t = 0u; t < dims.k; t += TILE_K) {
        let ar = row0 + a_r4 * 4u;
        let ac = t + a_kk;
        a_tile[a_kk][a_r4] = vec4<Elem>(
            load_a(a_base, ar, ac),
            load_a(a_base, ar + 1u, ac),
            load_a(a_base, ar + 2u, ac),
            load_a(a_base, ar + 3u, ac),
        );
        let br = t + b_kk;
        let bc = col0 + b_c4 * 4u;
        b_tile[b_kk][b_c4] = vec4<Elem>(
            load_b(b_base, br, bc),
            load_b(b_base, br, bc + 1u),
            load_b(b_base, br, bc + 2u),
            load_b(b_base, br, bc + 3u),
        );
        workgroupBarrier();

        for (var kk = 0u; kk < TILE_K; kk++) {
            let av = vec4<f32>(a_tile[kk][lid.y]);
            let bv = vec4<f32>(b_tile[kk][lid.x]);
            acc0 = fma(vec4<f32>(av.x), bv, acc0);
            acc1 = fma(vec4<f32>(av.y), bv, acc1);
            acc2 = fma(vec4<f32>(av.z), bv, acc2);
            acc3 = fma(vec4<f32>(av.w), bv, acc3);
        }
        workgroupBarrier();
    }

    let r = row0 + lid.y * 4u;
    let col = col0 + lid.x * 4u;
    store_row(c_base, r, col, acc0);
    store_row(c_base, r + 1u, col, acc1);
    store_row(c_base, r + 2u, col, acc2);
    store_row(c_base, r + 3u, col, acc3);
}
