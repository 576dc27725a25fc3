// Sliding-window (local) causal attention: query i attends keys max(0, i - window + 1) ..= i.
// Fused: one 64-invocation workgroup per (query, head, batch) computes its window's scores into
// workgroup memory, a stable softmax, and the weighted sum of V. Work and traffic per query are
// O(window * head_dim), so the cost grows with the window, not with seq_len^2.
// Q, K, V, O: (batch, heads, seq_len, head_dim), row-major; head_dim % 4 == 0; window <= 1024.

alias Elem = f32;
//!include attention.inc.wgsl
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;

const WG: u32 = 64u;
const MAX_WINDOW: u32 = 1024u;
var<workgroup> scores: array<f32, MAX_WINDOW>;
//!include reduce.inc.wgsl

// Dispatch (seq_len, heads, batch).
@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    let i = wg.x;
    let bh = wg.z * dims.heads + wg.y;
    let s = dims.seq_len;
    let hd = dims.head_dim;
    let dv = hd / 4u;
    let lo = select(0u, i + 1u - dims.window, i + 1u > dims.window);
    let n = i + 1u - lo;

    let qb = (bh * s + i) * dv;
    var m = -3.402823e38;
    for (var t = lidx; t < n; t += WG) {
        let kb = (bh * s + lo + t) * dv;
        var acc = 0.0;
        for (var d = 0u; d < dv; d++) {
            acc += dot(q[qb + d], k[kb + d]);
        }
        let sc = acc * dims.scale;
        scores[t] = sc;
        m = max(m, sc);
    }
    m = workgroup_max(lidx, m);

    var sum = 0.0;
    for (var t = lidx; t < n; t += WG) {
        let e = exp(scores[t] - m);
        scores[t] = e;
        sum += e;
    }
    // workgroup_sum() stores, then waits at a barrier, so every exp() above is visible below.
    let inv = 1.0 / workgroup_sum(lidx, sum);

    let vb = (bh * s + lo) * hd;
    for (var d = lidx; d < hd; d += WG) {
        var acc = 0.0;
        for (var t = 0u; t < n; t++) {
            acc += scores[t] * v[vb + t * hd + d];
        }
        o[(bh * s + i) * hd + d] = acc * inv;
    }
}
