//! The training step in f64: every forward operation, the loss, every backward from
//! [`crate::grad`] (each checked there against finite differences) and AdamW, step after step.
//! What the GPU's losses are checked against.

use super::{ADAMW, Op, TrainGraph, heads_first, tokens_first};
use crate::grad;

/// Losses of `steps` training steps from `weights` on the batch `ids` (the loss each step's
/// forward pass saw, before its update).
pub fn train(g: &TrainGraph, weights: &[Vec<f32>], ids: &[u32], steps: usize) -> Vec<f64> {
    let mut params: Vec<Vec<f64>> = weights.iter().map(|w| w.iter().map(|&x| f64::from(x)).collect()).collect();
    let (mut m, mut v): (Vec<Vec<f64>>, Vec<Vec<f64>>) =
        params.iter().map(|p| (vec![0.0; p.len()], vec![0.0; p.len()])).unzip();
    let mut losses = Vec::with_capacity(steps);
    for step in 1..=steps {
        let (loss, grads) = gradients(g, &params, ids);
        losses.push(loss);
        for (i, gr) in grads.iter().enumerate() {
            ADAMW.step(step as u32, &mut params[i], gr, &mut m[i], &mut v[i]);
        }
    }
    losses
}

/// The mean next-token loss at `params` (in [`TrainGraph::params`] order) and its gradient with
/// respect to each parameter.
pub fn gradients(g: &TrainGraph, params: &[Vec<f64>], ids: &[u32]) -> (f64, Vec<Vec<f64>>) {
    let mut vals: Vec<Vec<f64>> = g.tensors.iter().map(|t| vec![0.0; t.len]).collect();
    for (&p, w) in g.params.iter().zip(params) {
        vals[p] = w.clone();
    }
    let rope = super::rope_tables(&g.config, g.tokens)
        .map(|(c, s)| (c.iter().map(|&x| f64::from(x)).collect::<Vec<_>>(), s.iter().map(|&x| f64::from(x)).collect()));
    for op in &g.ops {
        forward(g, op, &mut vals, &ids[..g.tokens], rope.as_ref());
    }
    let (loss, dlogits) = grad::cross_entropy(&vals[g.logits], &ids[1..=g.tokens], g.tokens, g.config.vocab);
    let mut grads: Vec<Option<Vec<f64>>> = vec![None; g.tensors.len()];
    grads[g.logits] = Some(dlogits);
    for op in g.ops.iter().rev() {
        backward(g, op, &vals, &mut grads, &ids[..g.tokens], rope.as_ref());
    }
    // Every parameter of a decoder is on a loss path; one that were not would get zeros.
    let pg = g.params.iter().map(|&p| grads[p].take().unwrap_or_else(|| vec![0.0; g.tensors[p].len])).collect();
    (loss, pg)
}

fn accumulate(grads: &mut [Option<Vec<f64>>], t: usize, d: Vec<f64>) {
    match &mut grads[t] {
        Some(g) => g.iter_mut().zip(d).for_each(|(a, b)| *a += b),
        slot @ None => *slot = Some(d),
    }
}

fn matmul(x: &[f64], w: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut y = vec![0.0; m * n];
    for i in 0..m {
        for p in 0..k {
            let a = x[i * k + p];
            for j in 0..n {
                y[i * n + j] += a * w[p * n + j];
            }
        }
    }
    y
}

/// (n, k) to (k, n).
fn transpose(w: &[f64], n: usize, k: usize) -> Vec<f64> {
    (0..k * n).map(|e| w[(e % n) * k + e / n]).collect()
}

fn norm_rows(x: &[f64], gamma: &[f64], beta: Option<&[f64]>, cols: usize, rms: bool) -> Vec<f64> {
    let n = cols as f64;
    let eps = f64::from(crate::kernels::NORM_EPS);
    let mut y = vec![0.0; x.len()];
    for (xr, yr) in x.chunks(cols).zip(y.chunks_mut(cols)) {
        let mean = if rms { 0.0 } else { xr.iter().sum::<f64>() / n };
        let inv = 1.0 / (xr.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n + eps).sqrt();
        for c in 0..cols {
            yr[c] = (xr[c] - mean) * inv * gamma[c] + beta.map_or(0.0, |b| b[c]);
        }
    }
    y
}

/// Rotate-half RoPE of (T, heads, d) rows at positions 0..T; `sign` -1 rotates back (the
/// backward: the rotation's transpose).
fn rope(x: &[f64], (cos, sin): (&[f64], &[f64]), heads: usize, d: usize, sign: f64) -> Vec<f64> {
    let half = d / 2;
    let mut y = vec![0.0; x.len()];
    for (row, (xr, yr)) in x.chunks(d).zip(y.chunks_mut(d)).enumerate() {
        let t = row / heads;
        for i in 0..half {
            let (c, s) = (cos[t * half + i], sign * sin[t * half + i]);
            yr[i] = xr[i] * c - xr[i + half] * s;
            yr[i + half] = xr[i + half] * c + xr[i] * s;
        }
    }
    y
}

fn attention(g: &TrainGraph, q: &[f64], k: &[f64], v: &[f64]) -> Vec<f64> {
    let c = &g.config;
    let (t, d, group) = (g.tokens, c.head_dim, c.heads / c.kv_heads);
    let scale = 1.0 / (d as f64).sqrt();
    let mut out = vec![0.0; t * c.heads * d];
    for h in 0..c.heads {
        let kvh = h / group;
        for i in 0..t {
            let qi = &q[(i * c.heads + h) * d..][..d];
            let s: Vec<f64> = (0..=i)
                .map(|j| scale * qi.iter().zip(&k[(j * c.kv_heads + kvh) * d..][..d]).map(|(a, b)| a * b).sum::<f64>())
                .collect();
            let mx = s.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            let z: f64 = s.iter().map(|x| (x - mx).exp()).sum();
            for (j, sj) in s.iter().enumerate() {
                let p = (sj - mx).exp() / z;
                for cc in 0..d {
                    out[(i * c.heads + h) * d + cc] += p * v[(j * c.kv_heads + kvh) * d + cc];
                }
            }
        }
    }
    out
}

fn forward(g: &TrainGraph, op: &Op, vals: &mut [Vec<f64>], ids: &[u32], rope_t: Option<&(Vec<f64>, Vec<f64>)>) {
    let t = g.tokens;
    let (out, y) = match *op {
        Op::Embed { table, hidden, out } => {
            let y = ids.iter().flat_map(|&id| vals[table][id as usize * hidden..][..hidden].to_vec()).collect();
            (out, y)
        }
        Op::Add { a, b, len, b_len, out } => ((out), (0..len).map(|i| vals[a][i] + vals[b][i % b_len]).collect()),
        Op::Norm { rms, x, gamma, beta, cols, out } => {
            (out, norm_rows(&vals[x], &vals[gamma], beta.map(|b| vals[b].as_slice()), cols, rms))
        }
        Op::Matmul { x, w, k, n, out } => (out, matmul(&vals[x], &vals[w], t, k, n)),
        Op::MatmulT { x, w, k, n, out } => (out, matmul(&vals[x], &transpose(&vals[w], n, k), t, k, n)),
        Op::Rope { x, heads, out } => {
            let (c, s) = rope_t.expect("RoPE configs have tables");
            (out, rope(&vals[x], (c, s), heads, g.config.head_dim, 1.0))
        }
        Op::Attention { q, k, v, out } => (out, attention(g, &vals[q], &vals[k], &vals[v])),
        Op::Gelu { x, out, .. } => {
            let c = (2.0 / std::f64::consts::PI).sqrt();
            (out, vals[x].iter().map(|&v| 0.5 * v * (1.0 + (c * (v + 0.044715 * v * v * v)).tanh())).collect())
        }
        Op::SwiGlu { gate, up, out, .. } => {
            (out, vals[gate].iter().zip(&vals[up]).map(|(&a, &b)| a / (1.0 + (-a).exp()) * b).collect())
        }
    };
    vals[out] = y;
}

fn backward(
    g: &TrainGraph,
    op: &Op,
    vals: &[Vec<f64>],
    grads: &mut [Option<Vec<f64>>],
    ids: &[u32],
    rope_t: Option<&(Vec<f64>, Vec<f64>)>,
) {
    let t = g.tokens;
    let out = op.out();
    let Some(dy) = grads[out].clone() else { return };
    match *op {
        Op::Embed { table, hidden, .. } => {
            accumulate(grads, table, grad::embedding_backward(ids, &dy, g.tensors[table].len / hidden, hidden));
        }
        Op::Add { a, b, len, b_len, .. } => {
            let mut db = vec![0.0; b_len];
            for i in 0..len {
                db[i % b_len] += dy[i];
            }
            // Learned positions: the table's rows past T get zeros.
            db.resize(g.tensors[b].len, 0.0);
            accumulate(grads, a, dy);
            accumulate(grads, b, db);
        }
        Op::Norm { rms, x, gamma, beta, cols, .. } => {
            let eps = f64::from(crate::kernels::NORM_EPS);
            if rms {
                let (dx, dg) = grad::rmsnorm_backward(&vals[x], &vals[gamma], &dy, t, cols, eps);
                accumulate(grads, x, dx);
                accumulate(grads, gamma, dg);
            } else {
                let (dx, dg, db) = grad::layernorm_backward(&vals[x], &vals[gamma], &dy, t, cols, eps);
                accumulate(grads, x, dx);
                accumulate(grads, gamma, dg);
                accumulate(grads, beta.expect("LayerNorm has a shift"), db);
            }
        }
        Op::Matmul { x, w, k, n, .. } => {
            let (dx, dw) = grad::matmul_backward(&vals[x], &vals[w], &dy, t, k, n);
            accumulate(grads, x, dx);
            accumulate(grads, w, dw);
        }
        Op::MatmulT { x, w, k, n, .. } => {
            let (dx, dwt) = grad::matmul_backward(&vals[x], &transpose(&vals[w], n, k), &dy, t, k, n);
            accumulate(grads, x, dx);
            accumulate(grads, w, transpose(&dwt, k, n));
        }
        Op::Rope { x, heads, .. } => {
            let (c, s) = rope_t.expect("RoPE configs have tables");
            accumulate(grads, x, rope(&dy, (c, s), heads, g.config.head_dim, -1.0));
        }
        Op::Attention { q, k, v, .. } => {
            let c = &g.config;
            let (d, group) = (c.head_dim, c.heads / c.kv_heads);
            let hq = heads_first(&vals[q], t, c.heads, d, 1);
            let hk = heads_first(&vals[k], t, c.kv_heads, d, group);
            let hv = heads_first(&vals[v], t, c.kv_heads, d, group);
            let hdy = heads_first(&dy, t, c.heads, d, 1);
            let (dq, dk, dv) = grad::attention_backward(&hq, &hk, &hv, &hdy, (c.heads, t, d, t));
            accumulate(grads, q, tokens_first(&dq, t, c.heads, d, 1));
            accumulate(grads, k, tokens_first(&dk, t, c.kv_heads, d, group));
            accumulate(grads, v, tokens_first(&dv, t, c.kv_heads, d, group));
        }
        Op::Gelu { x, .. } => accumulate(grads, x, grad::gelu_backward(&vals[x], &dy, false)),
        Op::SwiGlu { gate, up, .. } => {
            let (dg, du) = grad::swiglu_backward(&vals[gate], &vals[up], &dy);
            accumulate(grads, gate, dg);
            accumulate(grads, up, du);
        }
    }
}
