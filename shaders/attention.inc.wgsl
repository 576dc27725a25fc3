// The problem every attention kernel shares: its dimensions and the Q and K it scores, laid out
// (batch, heads, seq_len, head_dim) row-major with head_dim % 4 == 0 so a row loads as vec4s.
// V and the outputs differ per kernel (flash reads V as vec4, the others per element), so each
// kernel binds those itself from binding 3 on. Q and K are `Elem`, aliased by the including file
// (f32, or f16 for the fp16 variants).

struct Dims {
    batch: u32,
    heads: u32,
    seq_len: u32,
    head_dim: u32,
    scale: f32,
    // Keys each query attends to, itself included; seq_len for full causal attention.
    window: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> q: array<vec4<Elem>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<Elem>>;
