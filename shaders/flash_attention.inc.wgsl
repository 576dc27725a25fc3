// Flash-style causal attention (FlashAttention-2 dataflow): each 64-invocation workgroup owns a
// block of 64 query rows, one row per invocation, and streams K/V tiles through workgroup memory
// with an online softmax (running max m, running sum l, rescaled accumulator). The
// seq_len x seq_len score matrix is never materialised; K/V are read once per query block.
// Q, K, V, O: (batch, heads, seq_len, head_dim), row-major; head_dim % 4 == 0, head_dim <= 128.
// Storage is `Elem` (f32 or f16, aliased by the including file); tiles and arithmetic are f32.

//!include attention.inc.wgsl
@group(0) @binding(3) var<storage, read> v: array<vec4<Elem>>;
@group(0) @binding(4) var<storage, read_write> o: array<vec4<Elem>>;

const BR: u32 = 64u;
const MAX_DV: u32 = 32u; // head_dim / 4 <= 32
// 8 KiB of K and V per tile; the tile holds TILE_VEC4 / (head_dim / 4) keys (16 at head_dim 64).
const TILE_VEC4: u32 = 256u;
var<workgroup> k_tile: array<vec4<f32>, TILE_VEC4>;
var<workgroup> v_tile: array<vec4<f32>, TILE_VEC4>;

// Dispatch (ceil(seq_len / 64), heads, batch).
@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    let s = dims.seq_len;
    let dv = dims.head_dim / 4u;
    let bc = TILE_VEC4 / dv;
    let bh = wg.z * dims.heads + wg.y;
    let row = wg.x * BR + lidx;
    let row_ok = row < s;
    let seq_base = bh * s * dv;

    var qr: array<vec4<f32>, MAX_DV>;
    var acc: array<vec4<f32>, MAX_DV>;
    for (var d = 0u; d < dv; d++) {
        if (row_ok) {
            qr[d] = vec4<f32>(q[seq_base + row * dv + d]) * dims.scale;
        }
        acc[d] = vec4<f32>(0.0);
    }
    var m = -3.402823e38;
    var l = 0.0;

    // Causal: the block's last row sees keys up to its own index, so later tiles are skipped.
    // The bound is uniform across the workgroup, keeping the barriers below in uniform flow.
    let kv_end = min(s, (wg.x + 1u) * BR);
    for (var j0 = 0u; j0 < kv_end; j0 += bc) {
        let n = min(bc, kv_end - j0);
        for (var e = lidx; e < n * dv; e += BR) {
            k_tile[e] = vec4<f32>(k[seq_base + j0 * dv + e]);
            v_tile[e] = vec4<f32>(v[seq_base + j0 * dv + e]);
        }
        workgroupBarrier();
        if (row_ok) {
            let last = min(n, row + 1u - min(row + 1u, j0));
            for (var j = 0u; j < last; j++) {
                var sc = 0.0;
                for (var d = 0u; d < dv; d++) {
                    sc += dot(qr[d], k_tile[j * dv + d]);
                }
                if (sc > m) {
                    let corr = exp(m - sc);
                    l *= corr;
                    for (var d = 0u; d < dv; d++) {
                        acc[d] *= corr;
                    }
                    m = sc;
                }
                let pj = exp(sc - m);
                l += pj;
                for (var d = 0u; d < dv; d++) {
                    acc[d] = fma(vec4<f32>(pj), v_tile[j * dv + d], acc[d]);
                }
            }
        }
        workgroupBarrier();
    }

    if (row_ok) {
        let inv = 1.0 / l;
        for (var d = 0u; d < dv; d++) {
            o[seq_base + row * dv + d] = vec4<Elem>(acc[d] * inv);
        }
    }
}
