//! native-cpu's training step: the same [`TrainGraph`] as the GPU's and the f64 reference's, in
//! f32 with native-cpu's own operations (packed GEMMs with transposed operands read in place,
//! rayon over rows): the forward ops of [`CpuOps`], the backward kernels of `cpu_grad`, and
//! AdamW. Each step is timed on the host; the losses are checked against the reference's.

use harness::kernels::ADAMW;
use harness::model::exec::HostOps as _;
use harness::op::{AttentionDims, RowsDims};
use harness::schema::{NormKind, Record, Status, TimerInfo, TimerKind};
use harness::train::run::{PreparedTraining, TrainCase, finish};
use harness::train::{Op, TrainGraph, heads_first, tokens_first};
use rayon::prelude::*;

use super::cpu::sgemm;
use super::cpu_grad::{attention_backward, gemm_strided, norm_backward};
use super::cpu_model::{CpuOps, silu};

/// Trains `case` from `prep` on this CPU: a measured record, or `mismatch` where a loss strays.
pub fn run_training(case: &TrainCase, prep: &PreparedTraining, record: Record, resolution_ns: f64) -> Record {
    let mut record = record;
    let Ok(g) = &case.graph else { return record };
    let mut state = State::new(g, &prep.weights);
    let (mut losses, mut step_ns) = (Vec::with_capacity(case.steps), Vec::with_capacity(case.steps));
    for step in 1..=case.steps {
        let t0 = std::time::Instant::now();
        losses.push(state.step(g, &prep.ids, step as u32));
        step_ns.push(t0.elapsed().as_secs_f64() * 1e9);
    }
    let bytes = g.tensors.iter().map(|t| 4 * t.len as u64).sum::<u64>()
        + g.params.iter().map(|&p| 8 * g.tensors[p].len as u64).sum::<u64>();
    let timer = TimerInfo { kind: TimerKind::HostClock, resolution_ns, quantized: false };
    record.status = Status::Measured;
    finish(&mut record, g, prep, losses, (&step_ns, timer), bytes);
    record
}

/// Every tensor's values and the parameters' AdamW moments.
struct State {
    vals: Vec<Vec<f32>>,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    rope: Option<(Vec<f32>, Vec<f32>, Vec<f32>)>,
}

impl State {
    fn new(g: &TrainGraph, weights: &[Vec<f32>]) -> State {
        let mut vals: Vec<Vec<f32>> = g.tensors.iter().map(|t| vec![0.0; t.len]).collect();
        for (&p, w) in g.params.iter().zip(weights) {
            vals[p] = w.clone();
        }
        let zeros = |p: &usize| vec![0.0; g.tensors[*p].len];
        let rope = harness::train::rope_tables(&g.config, g.tokens).map(|(c, s)| {
            let neg = s.iter().map(|x| -x).collect();
            (c, s, neg)
        });
        State { vals, m: g.params.iter().map(zeros).collect(), v: g.params.iter().map(zeros).collect(), rope }
    }

    /// One step: forward, loss, backward, AdamW; returns the loss the forward pass saw.
    fn step(&mut self, g: &TrainGraph, ids: &[u32], step: u32) -> f64 {
        let t = g.tokens;
        for op in &g.ops {
            let y = self.forward(g, op, &ids[..t]);
            self.vals[op.out()] = y;
        }
        let (loss, dlogits) = cross_entropy(&self.vals[g.logits], &ids[1..=t], g.config.vocab);
        let mut grads: Vec<Option<Vec<f32>>> = vec![None; g.tensors.len()];
        grads[g.logits] = Some(dlogits);
        for op in g.ops.iter().rev() {
            self.backward(g, op, &mut grads, &ids[..t]);
        }
        let o = ADAMW;
        let c1 = (1.0 / (1.0 - o.beta1.powi(step as i32))) as f32;
        let c2 = (1.0 / (1.0 - o.beta2.powi(step as i32))) as f32;
        let (b1, b2, lr, eps, wd) = (o.beta1 as f32, o.beta2 as f32, o.lr as f32, o.eps as f32, o.weight_decay as f32);
        for (i, &p) in g.params.iter().enumerate() {
            let gr = grads[p].take().unwrap_or_else(|| vec![0.0; g.tensors[p].len]);
            let (pv, m, v) = (&mut self.vals[p], &mut self.m[i], &mut self.v[i]);
            pv.par_iter_mut().zip(m.par_iter_mut().zip(v.par_iter_mut())).zip(gr.par_iter()).for_each(
                |((p, (m, v)), &g)| {
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    *p -= lr * ((*m * c1) / ((*v * c2).sqrt() + eps) + wd * *p);
                },
            );
        }
        loss
    }

    fn forward(&self, g: &TrainGraph, op: &Op, ids: &[u32]) -> Vec<f32> {
        let (t, c) = (g.tokens, &g.config);
        let v = &self.vals;
        let mut y = vec![0.0f32; g.tensors[op.out()].len];
        match *op {
            Op::Embed { table, hidden, .. } => {
                for (row, &id) in y.chunks_mut(hidden).zip(ids) {
                    row.copy_from_slice(&v[table][id as usize * hidden..][..hidden]);
                }
            }
            Op::Add { a, b, b_len, .. } => CpuOps.add(&v[a], &v[b][..b_len], b_len, &mut y),
            Op::Norm { rms, x, gamma, beta, cols, .. } => {
                let kind = if rms { NormKind::RmsNorm } else { NormKind::LayerNorm };
                CpuOps.norm(kind, &v[x], &v[gamma], beta.map(|b| v[b].as_slice()), t, cols, &mut y);
            }
            Op::Matmul { x, w, k, n, .. } => sgemm(t, n, k, &v[x], k, &v[w], n, &mut y, n, false),
            Op::MatmulT { x, w, k, n, .. } => sgemm(t, n, k, &v[x], k, &v[w], k, &mut y, n, true),
            Op::Rope { x, heads, .. } => {
                let (cos, sin, _) = self.rope.as_ref().expect("RoPE configs have tables");
                CpuOps.rope(&v[x], cos, sin, heads, c.head_dim, 0, &mut y);
            }
            Op::Attention { q, k, v: vv, .. } => attention(g, &v[q], &v[k], &v[vv], &mut y),
            Op::Gelu { x, .. } => CpuOps.gelu(&v[x], false, &mut y),
            Op::SwiGlu { gate, up, .. } => CpuOps.swiglu(&v[gate], &v[up], &mut y),
        }
        y
    }

    fn backward(&self, g: &TrainGraph, op: &Op, grads: &mut [Option<Vec<f32>>], ids: &[u32]) {
        let (t, c) = (g.tokens, &g.config);
        let Some(dy) = grads[op.out()].clone() else { return };
        let v = &self.vals;
        match *op {
            Op::Embed { table, hidden, .. } => {
                let mut d = vec![0.0; g.tensors[table].len];
                for (row, &id) in dy.chunks(hidden).zip(ids) {
                    for (o, x) in d[id as usize * hidden..][..hidden].iter_mut().zip(row) {
                        *o += x;
                    }
                }
                accumulate(grads, table, d);
            }
            Op::Add { a, b, b_len, .. } => {
                let mut db = vec![0.0; g.tensors[b].len];
                for row in dy.chunks(b_len) {
                    for (o, x) in db.iter_mut().zip(row) {
                        *o += x;
                    }
                }
                accumulate(grads, a, dy);
                accumulate(grads, b, db);
            }
            Op::Norm { rms, x, gamma, beta, cols, .. } => {
                let n = t * cols;
                let mut all = vec![0.0; n + 2 * cols];
                norm_backward(rms, RowsDims { rows: t, cols }, &v[x], &v[gamma], &dy, &mut all);
                accumulate(grads, gamma, all[n..n + cols].to_vec());
                if let Some(beta) = beta {
                    accumulate(grads, beta, all[n + cols..].to_vec());
                }
                all.truncate(n);
                accumulate(grads, x, all);
            }
            Op::Matmul { x, w, k, n, .. } => {
                let (mut dx, mut dw) = (vec![0.0; t * k], vec![0.0; k * n]);
                gemm_strided((t, k, n), &dy, (n, 1), &v[w], (1, n), &mut dx, k);
                gemm_strided((k, n, t), &v[x], (1, k), &dy, (n, 1), &mut dw, n);
                accumulate(grads, x, dx);
                accumulate(grads, w, dw);
            }
            Op::MatmulT { x, w, k, n, .. } => {
                // out = x w^T, w (n, k): dx = dy w, dw = dy^T x.
                let (mut dx, mut dw) = (vec![0.0; t * k], vec![0.0; n * k]);
                sgemm(t, k, n, &dy, n, &v[w], k, &mut dx, k, false);
                gemm_strided((n, k, t), &dy, (1, n), &v[x], (k, 1), &mut dw, k);
                accumulate(grads, x, dx);
                accumulate(grads, w, dw);
            }
            Op::Rope { x, heads, .. } => {
                let (cos, _, sin_neg) = self.rope.as_ref().expect("RoPE configs have tables");
                let mut dx = vec![0.0; dy.len()];
                CpuOps.rope(&dy, cos, sin_neg, heads, c.head_dim, 0, &mut dx);
                accumulate(grads, x, dx);
            }
            Op::Attention { q, k, v: vv, .. } => {
                let (d, group) = (c.head_dim, c.heads / c.kv_heads);
                let dims = AttentionDims { batch: 1, heads: c.heads, seq_len: t, head_dim: d, window: t };
                let hq = heads_first(&v[q], t, c.heads, d, 1);
                let hk = heads_first(&v[k], t, c.kv_heads, d, group);
                let hv = heads_first(&v[vv], t, c.kv_heads, d, group);
                let hdy = heads_first(&dy, t, c.heads, d, 1);
                let n = hq.len();
                let mut out = vec![0.0; 3 * n];
                attention_backward(dims, &hq, &hk, &hv, &hdy, &mut out);
                accumulate(grads, q, tokens_first(&out[..n], t, c.heads, d, 1));
                accumulate(grads, k, tokens_first(&out[n..2 * n], t, c.kv_heads, d, group));
                accumulate(grads, vv, tokens_first(&out[2 * n..], t, c.kv_heads, d, group));
            }
            Op::Gelu { x, .. } => {
                let k0 = (2.0f32 / std::f32::consts::PI).sqrt();
                let dx = v[x]
                    .par_iter()
                    .zip(&dy)
                    .map(|(&a, &g)| {
                        let th = (k0 * (a + 0.044715 * a * a * a)).clamp(-15.0, 15.0).tanh();
                        g * (0.5 * (1.0 + th) + 0.5 * a * (1.0 - th * th) * k0 * (1.0 + 3.0 * 0.044715 * a * a))
                    })
                    .collect();
                accumulate(grads, x, dx);
            }
            Op::SwiGlu { gate, up, .. } => {
                let (dg, du): (Vec<f32>, Vec<f32>) = v[gate]
                    .par_iter()
                    .zip(v[up].par_iter().zip(&dy))
                    .map(|(&a, (&u, &g))| {
                        let s = 1.0 / (1.0 + (-a).exp());
                        (g * u * s * (1.0 + a * (1.0 - s)), g * silu(a))
                    })
                    .unzip();
                accumulate(grads, gate, dg);
                accumulate(grads, up, du);
            }
        }
    }
}

fn accumulate(grads: &mut [Option<Vec<f32>>], t: usize, d: Vec<f32>) {
    match &mut grads[t] {
        Some(g) => g.iter_mut().zip(d).for_each(|(a, b)| *a += b),
        slot @ None => *slot = Some(d),
    }
}

/// Mean cross-entropy of the rows against `targets` and its gradient (softmax - onehot) / rows.
fn cross_entropy(logits: &[f32], targets: &[u32], vocab: usize) -> (f64, Vec<f32>) {
    let rows = targets.len();
    let mut d = vec![0.0f32; logits.len()];
    let losses: Vec<f64> = d
        .par_chunks_mut(vocab)
        .zip(logits.par_chunks(vocab))
        .zip(targets.par_iter())
        .map(|((g, l), &t)| {
            let m = l.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let z: f32 = l.iter().map(|x| (x - m).exp()).sum();
            for (o, &x) in g.iter_mut().zip(l) {
                *o = (x - m).exp() / z / rows as f32;
            }
            g[t as usize] -= 1.0 / rows as f32;
            f64::from(z.ln() + m - l[t as usize])
        })
        .collect();
    (losses.iter().sum::<f64>() / rows as f64, d)
}

/// Causal grouped-query attention over token-major rows, one query row at a time on all threads.
fn attention(g: &TrainGraph, q: &[f32], k: &[f32], v: &[f32], out: &mut [f32]) {
    let c = &g.config;
    let (d, group) = (c.head_dim, c.heads / c.kv_heads);
    let scale = 1.0 / (d as f32).sqrt();
    out.par_chunks_mut(d).enumerate().for_each(|(row, o)| {
        let (i, h) = (row / c.heads, row % c.heads);
        let kvh = h / group;
        let qi = &q[row * d..][..d];
        let s: Vec<f32> = (0..=i)
            .map(|j| scale * qi.iter().zip(&k[(j * c.kv_heads + kvh) * d..][..d]).map(|(a, b)| a * b).sum::<f32>())
            .collect();
        let m = s.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let z: f32 = s.iter().map(|x| (x - m).exp()).sum();
        o.fill(0.0);
        for (j, sj) in s.iter().enumerate() {
            let p = (sj - m).exp() / z;
            for (oc, vc) in o.iter_mut().zip(&v[(j * c.kv_heads + kvh) * d..][..d]) {
                *oc += p * vc;
            }
        }
    });
}
