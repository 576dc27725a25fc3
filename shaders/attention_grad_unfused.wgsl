// Causal (optionally sliding-window) attention backward, unfused: the probabilities P and the
// score gradients dS = scale P (dP - D), with dP[i, j] = dO_i . v_j and D_i = sum_j P dP, are
// materialised (heads x seq_len x seq_len each, head-major whatever the Q/K/V layout) and the
// gradient passes read them back instead of recomputing them: O(seq_len^2) memory per head, as
// an autograd framework's attention backward keeps, against attention_grad.wgsl's flash-style
// recomputation. Entries outside the causal window are never written nor read.
//   row_stats: per query row, P[i, :] and dS[i, :]
//   grad_q:    per query row, dq_i = sum_j dS[i, j] k_j
//   grad_k:    per key row,   dk_j = sum over its group's heads and queries of dS[i, j] q_i
//   grad_v:    per key row,   dv_j = sum over the same of P[i, j] dO_i
// One invocation per row as in attention_grad.wgsl; in grad_k and grad_v neighbouring
// invocations read neighbouring columns of P and dS.
//!include attention_grad_io.inc.wgsl

@group(0) @binding(7) var<storage, read_write> probs: array<f32>;
@group(0) @binding(8) var<storage, read_write> dscores: array<f32>;

// First element of row i of head h in P and dS.
fn score_row(h: u32, i: u32) -> u32 {
    return (h * dims.seq_len + i) * dims.seq_len;
}

@compute @workgroup_size(64, 1, 1)
fn row_stats(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var row = gid.x; row < dims.heads * dims.seq_len; row += nwg.x * 64u) {
        let h = query_row(row).x;
        let i = query_row(row).y;
        let g = kv_head(h);
        let qi = at(h, i, dims.heads);
        let pi = score_row(h, i);
        var m = -3.402823e38;
        for (var j = first_key(i); j <= i; j++) {
            let s = dims.scale * dot_qk(qi, at(g, j, dims.kv_heads));
            probs[pi + j] = s;
            m = max(m, s);
        }
        var l = 0.0;
        for (var j = first_key(i); j <= i; j++) {
            let p = exp(probs[pi + j] - m);
            probs[pi + j] = p;
            l += p;
        }
        var dsum = 0.0;
        for (var j = first_key(i); j <= i; j++) {
            let p = probs[pi + j] / l;
            let dp = dot_ov(qi, at(g, j, dims.kv_heads));
            probs[pi + j] = p;
            dscores[pi + j] = dp;
            dsum += p * dp;
        }
        for (var j = first_key(i); j <= i; j++) {
            dscores[pi + j] = dims.scale * probs[pi + j] * (dscores[pi + j] - dsum);
        }
    }
}

@compute @workgroup_size(64, 1, 1)
fn grad_q(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var row = gid.x; row < dims.heads * dims.seq_len; row += nwg.x * 64u) {
        let h = query_row(row).x;
        let i = query_row(row).y;
        let g = kv_head(h);
        let pi = score_row(h, i);
        var acc: array<vec4<f32>, MAX_D4>;
        for (var c = 0u; c < d4(); c++) {
            acc[c] = vec4<f32>(0.0);
        }
        for (var j = first_key(i); j <= i; j++) {
            let kj = at(g, j, dims.kv_heads);
            let ds = dscores[pi + j];
            for (var c = 0u; c < d4(); c++) {
                acc[c] += ds * k[kj + c];
            }
        }
        let qi = at(h, i, dims.heads);
        for (var c = 0u; c < d4(); c++) {
            out[dims.out_off + qi + c] = acc[c];
        }
    }
}

// dk (`want_v` false) or dv of key row (g, j): column j of dS or P against Q or dO.
fn grad_kv_row(row: u32, want_v: bool) {
    let g = row / dims.seq_len;
    let j = row % dims.seq_len;
    let group = dims.heads / dims.kv_heads;
    var acc: array<vec4<f32>, MAX_D4>;
    for (var c = 0u; c < d4(); c++) {
        acc[c] = vec4<f32>(0.0);
    }
    let last = min(dims.seq_len, j + dims.window);
    for (var h = g * group; h < (g + 1u) * group; h++) {
        for (var i = j; i < last; i++) {
            let qi = at(h, i, dims.heads);
            let e = score_row(h, i) + j;
            if (want_v) {
                let p = probs[e];
                for (var c = 0u; c < d4(); c++) {
                    acc[c] += p * dout[qi + c];
                }
            } else {
                let ds = dscores[e];
                for (var c = 0u; c < d4(); c++) {
                    acc[c] += ds * q[qi + c];
                }
            }
        }
    }
    let kj = at(g, j, dims.kv_heads);
    for (var c = 0u; c < d4(); c++) {
        out[dims.out_off + kj + c] = acc[c];
    }
}
