// The LM head and greedy sampling on the device, so a decode step's next input never visits
// the host:
//   logits: logits[step, v] = dot(x[row, :], w[v, :]) for every vocabulary row v; w is
//           (vocab, hidden), the embedding table's layout, so tied and untied heads are one kernel
//   argmax: ids[slot] = the first v with the largest logit of row `step`, unless forced[0] is
//           1 (a check feeds the reference's tokens instead and only reads the logits; a storage
//           flag, so the same recorded steps run checked once and then free)
// x: (rows, hidden); logits: (steps, vocab), one row per generated token, so every step's
// logits stay for the check. x and w are `Elem` (f32 or f16, aliased by the including file);
// the logits and every sum are f32.

struct Dims {
    hidden: u32,
    vocab: u32,
    row: u32,
    step: u32,
    slot: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<Elem>;
@group(0) @binding(2) var<storage, read> w: array<Elem>;
@group(0) @binding(3) var<storage, read_write> logits: array<f32>;
@group(0) @binding(4) var<storage, read_write> ids: array<u32>;
@group(0) @binding(5) var<storage, read> forced: array<u32>;

const WG: u32 = 64u;
//!include reduce.inc.wgsl

// logits: one 64-invocation workgroup per vocabulary row; dispatch rows_grid(vocab).
@compute @workgroup_size(64, 1, 1)
fn logits_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    let v = wg.x + wg.y * 65535u;
    // Whole workgroups leave together, so the reduction's barriers stay uniform.
    if (v >= dims.vocab) {
        return;
    }
    let xb = dims.row * dims.hidden;
    let wb = v * dims.hidden;
    var acc = 0.0;
    for (var i = lidx; i < dims.hidden; i += WG) {
        acc += f32(x[xb + i]) * f32(w[wb + i]);
    }
    let s = workgroup_sum(lidx, acc);
    if (lidx == 0u) {
        logits[dims.step * dims.vocab + v] = s;
    }
}

var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;

// argmax: one workgroup; dispatch (1, 1, 1).
@compute @workgroup_size(64, 1, 1)
fn argmax(@builtin(local_invocation_index) lidx: u32) {
    let base = dims.step * dims.vocab;
    var bv = -3.402823e38;
    var bi = 0xffffffffu;
    for (var v = lidx; v < dims.vocab; v += WG) {
        let l = logits[base + v];
        if (l > bv) {
            bv = l;
            bi = v;
        }
    }
    best_v[lidx] = bv;
    best_i[lidx] = bi;
    workgroupBarrier();
    for (var st = WG / 2u; st > 0u; st >>= 1u) {
        if (lidx < st) {
            let ov = best_v[lidx + st];
            let oi = best_i[lidx + st];
            // Ties go to the lower index, as the reference's argmax does.
            if (ov > best_v[lidx] || (ov == best_v[lidx] && oi < best_i[lidx])) {
                best_v[lidx] = ov;
                best_i[lidx] = oi;
            }
        }
        workgroupBarrier();
    }
    if (lidx == 0u && forced[0] == 0u) {
        ids[dims.slot] = best_i[0];
    }
}
