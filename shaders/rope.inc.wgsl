// Rotary position embedding (RoPE), the rotate-half convention of LLaMA, Qwen and Mistral: for
// each (token t, head h) and pair i < d/2, with a = x[i] and b = x[i + d/2],
//   y[i] = a cos(p_t f_i) - b sin(p_t f_i),   y[i + d/2] = b cos(p_t f_i) + a sin(p_t f_i),
// where f_i = theta^(-2i/d). The cos/sin table (tokens x d/2) is computed once on the host in
// f64, as serving engines keep a cos/sin cache: angles reach 1e6 rad at long positions, where an
// f32 angle is off by more than the tolerance. x, y: (tokens, heads, head_dim), row-major.
// Storage is `Elem` (f32 or f16, aliased by the including file); arithmetic is f32 either way.

struct Dims {
    tokens: u32,
    heads: u32,
    // head_dim / 2
    half: u32,
    // Table row of the first token: a model keeps one table for its whole context and rotates
    // a decode step's single token at its position.
    first: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<Elem>;
@group(0) @binding(2) var<storage, read> cos_t: array<f32>;
@group(0) @binding(3) var<storage, read> sin_t: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<Elem>;

// One invocation per (token, head, pair), grid-stride over x.
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let total = dims.tokens * dims.heads * dims.half;
    for (var e = gid.x; e < total; e += nwg.x * 256u) {
        let i = e % dims.half;
        let row = e / dims.half;
        let t = row / dims.heads;
        let base = row * 2u * dims.half;
        let c = cos_t[(dims.first + t) * dims.half + i];
        let s = sin_t[(dims.first + t) * dims.half + i];
        let a = f32(x[base + i]);
        let b = f32(x[base + i + dims.half]);
        y[base + i] = Elem(a * c - b * s);
        y[base + i + dims.half] = Elem(b * c + a * s);
    }
}
