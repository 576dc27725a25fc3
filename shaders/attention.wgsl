// Standard (unfused) multi-head scaled-dot-product attention with a causal mask, in three
// dispatches that materialise the seq_len x seq_len probability matrix P per (batch, head):
//   scores:  P = scale * Q K^T        (entries above the diagonal are never read)
//   softmax: P = softmax_causal(P)    (row i covers keys 0..=i)
//   context: O = P V
// This is the baseline that flash_attention.wgsl improves on: its memory traffic and footprint
// grow with seq_len^2. Q, K, V, O: (batch, heads, seq_len, head_dim), row-major; head_dim % 4 == 0.

alias Elem = f32;
//!include attention.inc.wgsl
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> p: array<f32>;
@group(0) @binding(5) var<storage, read_write> o: array<f32>;

// scores: one invocation per (query i, key j); dispatch (ceil(S/16), ceil(S/16), batch*heads).
@compute @workgroup_size(16, 16, 1)
fn scores(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    let i = gid.y;
    let bh = gid.z;
    let s = dims.seq_len;
    if (i >= s || j > i) {
        return;
    }
    let dv = dims.head_dim / 4u;
    let qb = (bh * s + i) * dv;
    let kb = (bh * s + j) * dv;
    var acc = 0.0;
    for (var d = 0u; d < dv; d++) {
        acc += dot(q[qb + d], k[kb + d]);
    }
    p[(bh * s + i) * s + j] = acc * dims.scale;
}

const WG: u32 = 256u;
//!include reduce.inc.wgsl

// softmax: one workgroup per row (query i of one batch*head); dispatch (S, batch*heads, 1).
@compute @workgroup_size(256, 1, 1)
fn softmax(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    let i = wg.x;
    let bh = wg.y;
    let s = dims.seq_len;
    let base = (bh * s + i) * s;
    let n = i + 1u;
    var m = -3.402823e38;
    for (var j = lidx; j < n; j += WG) {
        m = max(m, p[base + j]);
    }
    m = workgroup_max(lidx, m);
    var sum = 0.0;
    for (var j = lidx; j < n; j += WG) {
        let e = exp(p[base + j] - m);
        p[base + j] = e;
        sum += e;
    }
    let inv = 1.0 / workgroup_sum(lidx, sum);
    for (var j = lidx; j < n; j += WG) {
        p[base + j] = p[base + j] * inv;
    }
}

// context: one invocation per (query i, output dim d); dispatch (ceil(D/64), S, batch*heads).
// Neighbouring invocations read neighbouring d of the same V row, so V loads coalesce.
@compute @workgroup_size(64, 1, 1)
fn context(@builtin(global_invocation_id) gid: vec3<u32>) {
    let d = gid.x;
    let i = gid.y;
    let bh = gid.z;
    let s = dims.seq_len;
    let hd = dims.head_dim;
    if (d >= hd) {
        return;
    }
    let pb = (bh * s + i) * s;
    let vb = bh * s * hd;
    var acc = 0.0;
    for (var j = 0u; j <= i; j++) {
        acc += p[pb + j] * v[vb + j * hd + d];
    }
    o[(bh * s + i) * hd + d] = acc;
}
