// Softmax cross-entropy against target ids, fused with its gradient (the loss is the root of
// the backward pass, so there is no dy): per row r of `vocab` logits,
//   loss[r] = log(sum exp(l - max)) + max - l[target]      at grad[loss_off + r]
//   dl[r, c] = (softmax(l)[c] - [c == target]) * scale       at grad[r * vocab + c]
// with `scale` = 1 / rows for a mean loss. One 256-invocation workgroup per row. Storage of
// logits, gradient and losses is `Elem` (f32 or f16, aliased by the including file); arithmetic
// is f32 either way.

struct Dims {
    rows: u32,
    vocab: u32,
    loss_off: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> logits: array<Elem>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> grad: array<Elem>;

const WG: u32 = 256u;
//!include reduce.inc.wgsl

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    let row = wg.x + wg.y * 65535u;
    if (row >= dims.rows) {
        return;
    }
    let base = row * dims.vocab;
    var m = -3.402823e38;
    for (var c = lidx; c < dims.vocab; c += WG) {
        m = max(m, f32(logits[base + c]));
    }
    m = workgroup_max(lidx, m);
    var s = 0.0;
    for (var c = lidx; c < dims.vocab; c += WG) {
        s += exp(f32(logits[base + c]) - m);
    }
    s = workgroup_sum(lidx, s);
    let t = targets[row];
    let inv = 1.0 / s;
    for (var c = lidx; c < dims.vocab; c += WG) {
        let p = exp(f32(logits[base + c]) - m) * inv;
        grad[base + c] = Elem((p - select(0.0, 1.0, c == t)) * dims.scale);
    }
    if (lidx == 0u) {
        grad[dims.loss_off + row] = Elem(log(s) + m - f32(logits[base + t]));
    }
}
