// Register-blocked GEMM without workgroup memory; included by matmul_direct.wgsl and
// matmul_direct_f16.wgsl, which define `Elem` (the storage type; accumulation is f32).
//
// C[b] = A[b] (m x k) * B[b] (k x n), all row-major, on the same grid as matmul.inc.wgsl (16x16
// invocations per 64x64 tile of C, a 4x4 register block each), but each invocation reads its
// A rows and B columns straight from storage: no workgroup tiles and no barriers. On a GPU the
// shared tiles win (each global load feeds the whole workgroup); on CPU adapters, where a
// barrier is a thread switch and the CPU's caches do the sharing, this can be faster. The
// autotuner decides per device.

//!include matmul_io.inc.wgsl

fn load_a(base: u32, row: u32, col: u32) -> f32 {
    if (row < dims.m) {
        return f32(a[base + row * dims.k + col]);
    }
    return 0.0;
}

fn load_b4(base: u32, row: u32, col: u32) -> vec4<f32> {
    let at = base + row * dims.n + col;
    if (col + 3u < dims.n) {
        return vec4<f32>(f32(b[at]), f32(b[at + 1u]), f32(b[at + 2u]), f32(b[at + 3u]));
    }
    var v = vec4<f32>(0.0);
    for (var i = 0u; i < 4u; i++) {
        if (col + i < dims.n) {
            v[i] = f32(b[at + i]);
        }
    }
    return v;
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let r = wg.y * 64u + lid.y * 4u;
    let col = wg.x * 64u + lid.x * 4u;
    // No barriers below, so invocations past the edge may leave at once.
    if (r >= dims.m || col >= dims.n) {
        return;
    }
    let a_base = wg.z * dims.m * dims.k;
    let b_base = wg.z * dims.k * dims.n;
    let c_base = wg.z * dims.m * dims.n;

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var kk = 0u; kk < dims.k; kk++) {
        let bv = load_b4(b_base, kk, col);
        acc0 = fma(vec4<f32>(load_a(a_base, r, kk)), bv, acc0);
        acc1 = fma(vec4<f32>(load_a(a_base, r + 1u, kk)), bv, acc1);
        acc2 = fma(vec4<f32>(load_a(a_base, r + 2u, kk)), bv, acc2);
        acc3 = fma(vec4<f32>(load_a(a_base, r + 3u, kk)), bv, acc3);
    }
    store_row(c_base, r, col, acc0);
    store_row(c_base, r + 1u, col, acc1);
    store_row(c_base, r + 2u, col, acc2);
    store_row(c_base, r + 3u, col, acc3);
}
