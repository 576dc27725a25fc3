// The training attention kernels' interface (attention_grad.wgsl, attention_grad_unfused.wgsl):
// one Dims, the Q/K/V/dO/stats/out bindings and the row addressing both read, so their
// buffers bind the same way. Rows are head-major (heads, seq_len, head_dim), batch folded into heads,
// or token-major (seq_len, heads, head_dim) as a model's projections write them; K and V have
// `kv_heads` heads (grouped-query attention when fewer than `heads`). head_dim is a multiple of
// 4, at most 128. Every entry point writes `out` from `out_off` (in vec4s), so one buffer can
// hold dq, dk and dv in turn or each have its own.

struct Dims {
    heads: u32,
    kv_heads: u32,
    seq_len: u32,
    head_dim: u32,
    window: u32,
    scale: f32,
    token_major: u32,
    out_off: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> dout: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<vec4<f32>>;

const MAX_D4: u32 = 32u;

fn d4() -> u32 {
    return dims.head_dim / 4u;
}

// First vec4 of row i of head h in a tensor of `n_heads` heads.
fn at(h: u32, i: u32, n_heads: u32) -> u32 {
    if (dims.token_major == 1u) {
        return (i * n_heads + h) * d4();
    }
    return (h * dims.seq_len + i) * d4();
}

// Query head h reads K/V head h / (heads / kv_heads).
fn kv_head(h: u32) -> u32 {
    return h / (dims.heads / dims.kv_heads);
}

// q_i . k_j and dO_i . v_j from their first vec4s (two functions rather than one taking
// storage pointers, which core WGSL does not allow as parameters).
fn dot_qk(qi: u32, kj: u32) -> f32 {
    var s = 0.0;
    for (var c = 0u; c < d4(); c++) {
        s += dot(q[qi + c], k[kj + c]);
    }
    return s;
}

fn dot_ov(oi: u32, vj: u32) -> f32 {
    var s = 0.0;
    for (var c = 0u; c < d4(); c++) {
        s += dot(dout[oi + c], v[vj + c]);
    }
    return s;
}

// First key query i sees (the window's start).
fn first_key(i: u32) -> u32 {
    return select(0u, i + 1u - dims.window, i + 1u > dims.window);
}

// Query row (h, i) for a grid-stride index over heads * seq_len rows.
fn query_row(row: u32) -> vec2<u32> {
    return vec2<u32>(row / dims.seq_len, row % dims.seq_len);
}

// The key-row passes of both shaders, over the including file's grad_kv_row(row, want_v): dk
// (`want_v` false) or dv of each of the kv_heads * seq_len key rows, grid-stride.
@compute @workgroup_size(64, 1, 1)
fn grad_k(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var row = gid.x; row < dims.kv_heads * dims.seq_len; row += nwg.x * 64u) {
        grad_kv_row(row, false);
    }
}

@compute @workgroup_size(64, 1, 1)
fn grad_v(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var row = gid.x; row < dims.kv_heads * dims.seq_len; row += nwg.x * 64u) {
        grad_kv_row(row, true);
    }
}
