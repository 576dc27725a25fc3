// Attention over a paged KV cache, the one attention every model runs: grouped-query (query
// head h reads KV head h / (heads / kv_heads)), causal or bidirectional, for a block of `tokens`
// queries at positions first..first+tokens (a prompt: first = 0; a decode step: tokens = 1).
//   append:  the block's K and V rows into their cache slots
//   scores:  P = scale * Q K^T over the keys each query sees
//   softmax: P = softmax(P) per row
//   context: O = P V
// Cache slots are paged: position t lives in slot page_table[t / page_size] * page_size +
// t % page_size, so a cache grows a page at a time as serving engines allocate it.
// Layouts, row-major: q, o (tokens, heads, head_dim); k_new, v_new (tokens, kv_heads, head_dim);
// k_cache, v_cache (slots, kv_heads, head_dim); p (tokens, heads, max_keys).
// `Elem` is the including file's storage type (q, K/V, the cache and o); the scores p and
// all arithmetic stay f32.

struct Dims {
    tokens: u32,
    first: u32,
    heads: u32,
    kv_heads: u32,
    head_dim: u32,
    page_size: u32,
    // 1: query t sees keys 0..=first+t; 0: every key 0..first+tokens.
    causal: u32,
    // Row stride of p: at least first + tokens.
    max_keys: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> q: array<Elem>;
@group(0) @binding(2) var<storage, read> k_new: array<Elem>;
@group(0) @binding(3) var<storage, read> v_new: array<Elem>;
@group(0) @binding(4) var<storage, read> page_table: array<u32>;
@group(0) @binding(5) var<storage, read_write> k_cache: array<Elem>;
@group(0) @binding(6) var<storage, read_write> v_cache: array<Elem>;
@group(0) @binding(7) var<storage, read_write> p: array<f32>;
@group(0) @binding(8) var<storage, read_write> o: array<Elem>;

fn slot(t: u32) -> u32 {
    return page_table[t / dims.page_size] * dims.page_size + t % dims.page_size;
}

// Keys query t sees.
fn keys_of(t: u32) -> u32 {
    if (dims.causal == 1u) {
        return dims.first + t + 1u;
    }
    return dims.first + dims.tokens;
}

// append: one invocation per element of k_new; grid-stride.
@compute @workgroup_size(256, 1, 1)
fn append(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = dims.kv_heads * dims.head_dim;
    let total = dims.tokens * row;
    for (var e = gid.x; e < total; e += nwg.x * 256u) {
        let t = e / row;
        let at = slot(dims.first + t) * row + e % row;
        k_cache[at] = k_new[e];
        v_cache[at] = v_new[e];
    }
}

// scores: one invocation per (key j, query t, head h); dispatch (ceil(keys/64), tokens, heads).
@compute @workgroup_size(64, 1, 1)
fn scores(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    let t = gid.y;
    let h = gid.z;
    if (j >= keys_of(t)) {
        return;
    }
    let d = dims.head_dim;
    let kvh = h / (dims.heads / dims.kv_heads);
    let qb = (t * dims.heads + h) * d;
    let kb = (slot(j) * dims.kv_heads + kvh) * d;
    var acc = 0.0;
    for (var i = 0u; i < d; i++) {
        acc += f32(q[qb + i]) * f32(k_cache[kb + i]);
    }
    p[(t * dims.heads + h) * dims.max_keys + j] = acc * dims.scale;
}

const WG: u32 = 256u;
//!include reduce.inc.wgsl

// softmax: one workgroup per (query t, head h); dispatch (tokens, heads, 1).
@compute @workgroup_size(256, 1, 1)
fn softmax(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    let t = wg.x;
    let base = (t * dims.heads + wg.y) * dims.max_keys;
    let n = keys_of(t);
    var m = -3.402823e38;
    for (var j = lidx; j < n; j += WG) {
        m = max(m, p[base + j]);
    }
    m = workgroup_max(lidx, m);
    var s = 0.0;
    for (var j = lidx; j < n; j += WG) {
        let e = exp(p[base + j] - m);
        p[base + j] = e;
        s += e;
    }
    let inv = 1.0 / workgroup_sum(lidx, s);
    for (var j = lidx; j < n; j += WG) {
        p[base + j] *= inv;
    }
}

// context: one invocation per (feature i, query t, head h); dispatch (ceil(d/64), tokens, heads).
@compute @workgroup_size(64, 1, 1)
fn context(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let t = gid.y;
    let h = gid.z;
    let d = dims.head_dim;
    if (i >= d) {
        return;
    }
    let kvh = h / (dims.heads / dims.kv_heads);
    let base = (t * dims.heads + h) * dims.max_keys;
    var acc = 0.0;
    for (var j = 0u; j < keys_of(t); j++) {
        acc += p[base + j] * f32(v_cache[(slot(j) * dims.kv_heads + kvh) * d + i]);
    }
    o[(t * dims.heads + h) * d + i] = Elem(acc);
}
