// Causal (optionally sliding-window) attention for training, O = softmax(scale Q K^T + mask) V,
// and its backward given dO, in the flash-attention manner: the (seq_len x seq_len)
// probabilities are never stored; each pass recomputes P[i, j] = exp(scale q_i . k_j - lse_i)
// from the row's log-sum-exp. The layouts and bindings are attention_grad_io.inc.wgsl's.
//   forward:   per query row, O_i and lse_i (into stats)
//   row_stats: per query row, lse_i and D_i = sum_j P[i, j] (dO_i . v_j)
//   grad_q:    per query row, dq_i = scale sum_j dS[i, j] k_j,   dS = P (dO_i . v_j - D_i)
//   grad_k:    per key row,   dk_j = scale sum over its group's heads and queries of dS[i, j] q_i
//   grad_v:    per key row,   dv_j = sum over the same of P[i, j] dO_i
// One invocation per row with its accumulator in registers: no workgroup barriers, which CPU
// adapters make expensive, and no atomics (each output row has one owner).
//!include attention_grad_io.inc.wgsl

@compute @workgroup_size(64, 1, 1)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var row = gid.x; row < dims.heads * dims.seq_len; row += nwg.x * 64u) {
        let h = query_row(row).x;
        let i = query_row(row).y;
        let g = kv_head(h);
        let qi = at(h, i, dims.heads);
        var acc: array<vec4<f32>, MAX_D4>;
        for (var c = 0u; c < d4(); c++) {
            acc[c] = vec4<f32>(0.0);
        }
        var m = -3.402823e38;
        var l = 0.0;
        for (var j = first_key(i); j <= i; j++) {
            let kj = at(g, j, dims.kv_heads);
            let s = dims.scale * dot_qk(qi, kj);
            let m1 = max(m, s);
            let corr = exp(m - m1);
            let p = exp(s - m1);
            l = l * corr + p;
            for (var c = 0u; c < d4(); c++) {
                acc[c] = acc[c] * corr + p * v[kj + c];
            }
            m = m1;
        }
        for (var c = 0u; c < d4(); c++) {
            out[dims.out_off + qi + c] = acc[c] / l;
        }
        stats[2u * row] = m + log(l);
    }
}

@compute @workgroup_size(64, 1, 1)
fn row_stats(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var row = gid.x; row < dims.heads * dims.seq_len; row += nwg.x * 64u) {
        let h = query_row(row).x;
        let i = query_row(row).y;
        let g = kv_head(h);
        let qi = at(h, i, dims.heads);
        var m = -3.402823e38;
        var l = 0.0;
        for (var j = first_key(i); j <= i; j++) {
            let s = dims.scale * dot_qk(qi, at(g, j, dims.kv_heads));
            let m1 = max(m, s);
            l = l * exp(m - m1) + exp(s - m1);
            m = m1;
        }
        let lse = m + log(l);
        var dsum = 0.0;
        for (var j = first_key(i); j <= i; j++) {
            let kj = at(g, j, dims.kv_heads);
            dsum += exp(dims.scale * dot_qk(qi, kj) - lse) * dot_ov(qi, kj);
        }
        stats[2u * row] = lse;
        stats[2u * row + 1u] = dsum;
    }
}

@compute @workgroup_size(64, 1, 1)
fn grad_q(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var row = gid.x; row < dims.heads * dims.seq_len; row += nwg.x * 64u) {
        let h = query_row(row).x;
        let i = query_row(row).y;
        let g = kv_head(h);
        let qi = at(h, i, dims.heads);
        let lse = stats[2u * row];
        let dsum = stats[2u * row + 1u];
        var acc: array<vec4<f32>, MAX_D4>;
        for (var c = 0u; c < d4(); c++) {
            acc[c] = vec4<f32>(0.0);
        }
        for (var j = first_key(i); j <= i; j++) {
            let kj = at(g, j, dims.kv_heads);
            let p = exp(dims.scale * dot_qk(qi, kj) - lse);
            let ds = p * (dot_ov(qi, kj) - dsum);
            for (var c = 0u; c < d4(); c++) {
                acc[c] += ds * k[kj + c];
            }
        }
        for (var c = 0u; c < d4(); c++) {
            out[dims.out_off + qi + c] = dims.scale * acc[c];
        }
    }
}

// dk (`want_v` false) or dv of key row (g, j), over the query heads of group g and the queries
// that see j.
fn grad_kv_row(row: u32, want_v: bool) {
    let g = row / dims.seq_len;
    let j = row % dims.seq_len;
    let kj = at(g, j, dims.kv_heads);
    let group = dims.heads / dims.kv_heads;
    var acc: array<vec4<f32>, MAX_D4>;
    for (var c = 0u; c < d4(); c++) {
        acc[c] = vec4<f32>(0.0);
    }
    let last = min(dims.seq_len, j + dims.window);
    for (var h = g * group; h < (g + 1u) * group; h++) {
        for (var i = j; i < last; i++) {
            let qi = at(h, i, dims.heads);
            let srow = h * dims.seq_len + i;
            let p = exp(dims.scale * dot_qk(qi, kj) - stats[2u * srow]);
            if (want_v) {
                for (var c = 0u; c < d4(); c++) {
                    acc[c] += p * dout[qi + c];
                }
            } else {
                let ds = dims.scale * p * (dot_ov(qi, kj) - stats[2u * srow + 1u]);
                for (var c = 0u; c < d4(); c++) {
                    acc[c] += ds * q[qi + c];
                }
            }
        }
    }
    for (var c = 0u; c < d4(); c++) {
        out[dims.out_off + kj + c] = acc[c];
    }
}
