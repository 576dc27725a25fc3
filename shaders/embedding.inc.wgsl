// Embedding lookup: y[t, :] = table[ids[t], :], the first operation of every token model.
// Pure data movement: one invocation per output element, grid-stride, so neighbouring
// invocations read neighbouring floats of the same table row. table: (vocab, hidden), ids:
// (first + tokens), y: (tokens, hidden), row-major.
// Storage is `Elem` (f32 or f16, aliased by the including file); arithmetic is f32 either way.

struct Dims {
    tokens: u32,
    hidden: u32,
    // Index of the first id to look up: a decode step reads the one token its position holds,
    // and a model gathers one row of its hidden state the same way (ids 0, 1, 2, ...).
    first: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> table: array<Elem>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<Elem>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let total = dims.tokens * dims.hidden;
    for (var e = gid.x; e < total; e += nwg.x * 256u) {
        let t = e / dims.hidden;
        y[e] = table[ids[dims.first + t] * dims.hidden + e % dims.hidden];
    }
}
