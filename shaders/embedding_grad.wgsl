// Gradient of an embedding lookup: each table row sums the dy rows of the tokens that read it,
//   dtable[v, h] = sum_{t : ids[t] = v} dy[t, h]
// One invocation per table element, grid-stride, each scanning the ids: a deterministic sum in
// token order with no float atomics (WGSL has none), at the cost of reading the ids once per
// element, which the cache serves (the ids are tokens * 4 bytes).

struct Dims {
    tokens: u32,
    vocab: u32,
    hidden: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let total = dims.vocab * dims.hidden;
    for (var e = gid.x; e < total; e += nwg.x * 256u) {
        let v = e / dims.hidden;
        let h = e % dims.hidden;
        var acc = 0.0;
        for (var t = 0u; t < dims.tokens; t++) {
            if (ids[t] == v) {
                acc += dy[t * dims.hidden + h];
            }
        }
        grad[e] = acc;
    }
}
