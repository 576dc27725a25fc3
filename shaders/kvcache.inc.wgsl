// Paged KV-cache streaming decode. Per (layer, head) pair ("lh"), K and V live in fixed-size
// pages of page_size tokens, scattered through one physical pool and found through a page table
// (as in vLLM's PagedAttention). One decode step is three dispatches:
//   append:  write the new token's K/V at position pos (page pos / page_size, slot pos % page_size)
//   attend:  split the context 0..=pos into chunks of CHUNK tokens, one workgroup per (chunk, lh),
//            each producing a partial softmax (max, sum, weighted V) -- "flash-decoding", which
//            keeps long contexts spread over many workgroups instead of one per head
//   combine: merge the chunk partials per lh into the output.
// `prefill` bulk-writes the first `pos` tokens from a dense (lh, pos, head_dim) source.
// The cache, K/V, queries and output are `Elem` (f32, or f16 for an fp16 cache, aliased by the
// including file); scores, partials and sums are f32.

struct Dims {
    lh: u32,
    head_dim: u32,
    page_size: u32,
    max_pages: u32,
    // Decode: index of the token being appended. Prefill: number of tokens to write.
    pos: u32,
    // Index of the decode step, selecting its slice of new_k/new_v/query/out.
    step: u32,
    max_chunks: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> page_table: array<u32>;
@group(0) @binding(2) var<storage, read_write> k_pool: array<Elem>;
@group(0) @binding(3) var<storage, read_write> v_pool: array<Elem>;
@group(0) @binding(4) var<storage, read> pre_k: array<Elem>;
@group(0) @binding(5) var<storage, read> pre_v: array<Elem>;
@group(0) @binding(6) var<storage, read> new_k: array<Elem>;
@group(0) @binding(7) var<storage, read> new_v: array<Elem>;
@group(0) @binding(8) var<storage, read> query: array<Elem>;
@group(0) @binding(9) var<storage, read_write> partial: array<f32>;
@group(0) @binding(10) var<storage, read_write> out: array<Elem>;

const CHUNK: u32 = 256u;
const WG: u32 = 64u;
const MAX_HEAD_DIM: u32 = 128u;

fn slot_of(lh: u32, t: u32) -> u32 {
    let page = page_table[lh * dims.max_pages + t / dims.page_size];
    return (page * dims.page_size + t % dims.page_size) * dims.head_dim;
}

// One invocation per element of (lh, pos, head_dim); grid-stride over x.
@compute @workgroup_size(256, 1, 1)
fn prefill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let total = dims.lh * dims.pos * dims.head_dim;
    for (var e = gid.x; e < total; e += nwg.x * 256u) {
        let d = e % dims.head_dim;
        let t = (e / dims.head_dim) % dims.pos;
        let lh = e / (dims.head_dim * dims.pos);
        let at = slot_of(lh, t) + d;
        k_pool[at] = pre_k[e];
        v_pool[at] = pre_v[e];
    }
}

// One invocation per element of (lh, head_dim).
@compute @workgroup_size(256, 1, 1)
fn append(@builtin(global_invocation_id) gid: vec3<u32>) {
    let e = gid.x;
    if (e >= dims.lh * dims.head_dim) {
        return;
    }
    let d = e % dims.head_dim;
    let lh = e / dims.head_dim;
    let at = slot_of(lh, dims.pos) + d;
    let src = dims.step * dims.lh * dims.head_dim + e;
    k_pool[at] = new_k[src];
    v_pool[at] = new_v[src];
}

var<workgroup> q_s: array<f32, MAX_HEAD_DIM>;
var<workgroup> scores: array<f32, CHUNK>;
//!include reduce.inc.wgsl

// Dispatch (ceil((pos + 1) / CHUNK), lh, 1). Partial record: [m, l, acc[0..head_dim]].
@compute @workgroup_size(64, 1, 1)
fn attend(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    let chunk = wg.x;
    let lh = wg.y;
    let hd = dims.head_dim;
    let ctx = dims.pos + 1u;
    let t0 = chunk * CHUNK;
    let n = min(CHUNK, ctx - t0);
    let qbase = dims.step * dims.lh * hd + lh * hd;
    for (var d = lidx; d < hd; d += WG) {
        q_s[d] = f32(query[qbase + d]) * dims.scale;
    }
    workgroupBarrier();

    var m = -3.402823e38;
    for (var t = lidx; t < n; t += WG) {
        let kb = slot_of(lh, t0 + t);
        var acc = 0.0;
        for (var d = 0u; d < hd; d++) {
            acc += q_s[d] * f32(k_pool[kb + d]);
        }
        scores[t] = acc;
        m = max(m, acc);
    }
    m = workgroup_max(lidx, m);
    var l = 0.0;
    for (var t = lidx; t < n; t += WG) {
        let e = exp(scores[t] - m);
        scores[t] = e;
        l += e;
    }
    l = workgroup_sum(lidx, l);

    let rec = (lh * dims.max_chunks + chunk) * (hd + 2u);
    if (lidx == 0u) {
        partial[rec] = m;
        partial[rec + 1u] = l;
    }
    for (var d = lidx; d < hd; d += WG) {
        var acc = 0.0;
        for (var t = 0u; t < n; t++) {
            acc += scores[t] * f32(v_pool[slot_of(lh, t0 + t) + d]);
        }
        partial[rec + 2u + d] = acc;
    }
}

// Dispatch (lh, 1, 1); invocation d merges dimension d over all chunks.
@compute @workgroup_size(128, 1, 1)
fn combine(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) d: u32) {
    let lh = wg.x;
    let hd = dims.head_dim;
    if (d >= hd) {
        return;
    }
    let chunks = (dims.pos + CHUNK) / CHUNK;
    var gm = -3.402823e38;
    for (var c = 0u; c < chunks; c++) {
        gm = max(gm, partial[(lh * dims.max_chunks + c) * (hd + 2u)]);
    }
    var num = 0.0;
    var den = 0.0;
    for (var c = 0u; c < chunks; c++) {
        let rec = (lh * dims.max_chunks + c) * (hd + 2u);
        let w = exp(partial[rec] - gm);
        den += w * partial[rec + 1u];
        num += w * partial[rec + 2u + d];
    }
    out[dims.step * dims.lh * hd + lh * hd + d] = Elem(num / den);
}
