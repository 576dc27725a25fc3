//! The training step as one GPU plan: one timed pass that advances the device's step counter,
//! runs the forward pass with the catalogue's forward kernels, the fused cross-entropy, the
//! backward pass with the training kernels (a tensor read twice gets its gradients summed by
//! `add`), and AdamW over every parameter in place. Running the pass again is the next step.

use super::{Op, TensorId, TrainGraph};
use crate::kernels::calls;
use crate::op::{EmbeddingDims, MatmulDims, RowsDims};
use crate::plan::{BufferId, Call, OutputType, Plan};
use crate::shaders::{Shader, by_file};

/// A lowered step and where its results are.
#[derive(Debug)]
pub struct TrainPlan {
    pub plan: Plan,
    /// The output buffer holds dlogits, then each token's loss from this element.
    pub loss_at: usize,
}

/// A gradient: its buffer, where it starts, and how many of the tensor's elements it covers
/// (a learned position table's gradient covers the T rows the batch used).
#[derive(Clone, Copy, Debug)]
struct Grad {
    buf: BufferId,
    off: usize,
    len: usize,
}

struct Lowering<'a> {
    g: &'a TrainGraph,
    plan: Plan,
    buf: Vec<BufferId>,
    grads: Vec<Option<Grad>>,
    calls: Vec<Call>,
}

fn sh(file: &str) -> &'static Shader {
    by_file(file)
}

impl Lowering<'_> {
    fn scratch(&mut self, label: &str, len: usize) -> BufferId {
        self.plan.scratch(label, 4 * len as u64)
    }

    /// Adds `d` to tensor `t`'s gradient: the first becomes it, a later one is summed into a
    /// new buffer.
    fn accumulate(&mut self, t: TensorId, d: Grad) {
        let new = match self.grads[t] {
            None => d,
            Some(old) => {
                assert!(old.off == 0 && d.off == 0 && old.len == d.len, "summed gradients start at 0 and match");
                let name = format!("d{}", self.g.tensors[t].name);
                let sum = self.scratch(&name, d.len);
                self.calls.push(calls::add(sh("add.wgsl"), d.len, d.len, old.buf, d.buf, sum));
                Grad { buf: sum, off: 0, len: d.len }
            }
        };
        self.grads[t] = Some(new);
    }

    fn fresh(&mut self, t: TensorId, len: usize) -> Grad {
        let name = format!("d{}", self.g.tensors[t].name);
        Grad { buf: self.scratch(&name, len), off: 0, len }
    }

    fn layout(&self) -> calls::AttnLayout {
        let c = &self.g.config;
        calls::AttnLayout {
            heads: c.heads,
            kv_heads: c.kv_heads,
            seq_len: self.g.tokens,
            head_dim: c.head_dim,
            window: self.g.tokens,
            token_major: true,
        }
    }
}

/// The plan of one training step from `weights` on the batch `ids` (`tokens + 1`).
pub fn lower(g: &TrainGraph, weights: &[Vec<f32>], ids: &[u32]) -> TrainPlan {
    let (t, vocab) = (g.tokens, g.config.vocab);
    let mut plan = Plan::new(sh("adamw_step.wgsl"));
    let mut buf = vec![usize::MAX; g.tensors.len()];
    for (&p, w) in g.params.iter().zip(weights) {
        buf[p] = plan.storage_f32(&g.tensors[p].name, w);
    }
    for (i, d) in g.tensors.iter().enumerate().filter(|(_, d)| d.kind == super::Kind::Activation) {
        buf[i] = plan.scratch(&d.name, 4 * d.len as u64);
    }
    let id_buf = plan.storage_bytes("ids", bytemuck::cast_slice(&ids[..t]).to_vec());
    let targets = plan.storage_bytes("targets", bytemuck::cast_slice(&ids[1..=t]).to_vec());
    let ones = plan.storage_f32("ones", &vec![1.0; t]);
    let counter = plan.storage_bytes("step", 0u32.to_le_bytes().to_vec());
    let rope = super::rope_tables(&g.config, t).map(|(c, s)| {
        let neg: Vec<f32> = s.iter().map(|x| -x).collect();
        (plan.storage_f32("rope.cos", &c), plan.storage_f32("rope.sin", &s), plan.storage_f32("rope.sin_neg", &neg))
    });
    let ce = plan.output("ce", t * vocab + t, OutputType::F32);
    let mut l = Lowering { g, plan, buf, grads: vec![None; g.tensors.len()], calls: vec![] };
    let tick_dims = calls::adamw_step(0, 0, 0);
    l.calls.push(Call {
        entry_point: "tick",
        bindings: vec![("counter", counter)],
        workgroups: [1, 1, 1],
        ..tick_dims
    });
    let mut stats = vec![];
    for op in &g.ops {
        forward(&mut l, op, id_buf, rope, &mut stats);
    }
    let b = |l: &Lowering, t: TensorId| l.buf[t];
    let d = RowsDims { rows: t, cols: vocab };
    l.calls.push(calls::cross_entropy(sh("cross_entropy.wgsl"), d, b(&l, g.logits), targets, ce, t * vocab));
    l.grads[g.logits] = Some(Grad { buf: ce, off: 0, len: t * vocab });
    for op in g.ops.iter().rev() {
        backward(&mut l, op, id_buf, ones, rope, &mut stats);
    }
    // The longest stretch of a parameter its gradient does not cover (learned positions past
    // T): AdamW still decays it, against a zero gradient.
    let uncovered = g.params.iter().map(|&p| g.tensors[p].len - l.grads[p].map_or(0, |d| d.len)).max().unwrap_or(0);
    let zeros = (uncovered > 0).then(|| l.plan.storage_f32("zeros", &vec![0.0; uncovered]));
    for &p in &g.params {
        let len = g.tensors[p].len;
        let m = l.plan.storage_f32(&format!("{}.m", g.tensors[p].name), &vec![0.0; len]);
        let v = l.plan.storage_f32(&format!("{}.v", g.tensors[p].name), &vec![0.0; len]);
        let d = l.grads[p].unwrap_or_else(|| panic!("{} is on no loss path", g.tensors[p].name));
        let bind = |gbuf| vec![("p", l.buf[p]), ("g", gbuf), ("m", m), ("v", v), ("counter", counter)];
        l.calls.push(Call { bindings: bind(d.buf), ..calls::adamw_step(d.len, 0, d.off) });
        if d.len < len {
            let z = zeros.expect("sized for every uncovered stretch");
            l.calls.push(Call { bindings: bind(z), ..calls::adamw_step(len - d.len, d.len, 0) });
        }
    }
    let Lowering { mut plan, calls, .. } = l;
    let pass = plan.pass("train-step", calls);
    plan.timed.push(pass);
    TrainPlan { plan, loss_at: t * vocab }
}

type Rope = Option<(BufferId, BufferId, BufferId)>;

fn forward(l: &mut Lowering, op: &Op, ids: BufferId, rope: Rope, stats: &mut Vec<BufferId>) {
    let t = l.g.tokens;
    let b = |id: TensorId| l.buf[id];
    let call = match *op {
        Op::Embed { table, hidden, out } => calls::embedding(sh("embedding.wgsl"), t, hidden, 0, b(table), ids, b(out)),
        Op::Add { a, b: bb, len, b_len, out } => calls::add(sh("add.wgsl"), len, b_len, b(a), b(bb), b(out)),
        Op::Norm { rms, x, gamma, beta, cols, out } => {
            calls::norm(sh("norm.wgsl"), rms, t, cols, b(x), b(gamma), beta.map(b), b(out))
        }
        Op::Matmul { x, w, k, n, out } => {
            calls::matmul(sh("matmul_f32.wgsl"), MatmulDims { m: t, n, k, batch: 1 }, b(x), b(w), b(out))
        }
        // x w^T is matmul_grad's grad_input with x in dy's place.
        Op::MatmulT { x, w, k, n, out } => {
            let [gi, _] = calls::matmul_grad(calls::MatmulGrad {
                m: t,
                k: n,
                n: k,
                x: b(x),
                w: b(w),
                dy: b(x),
                dx: (b(out), 0),
                dw: (b(out), 0),
            });
            gi
        }
        Op::Rope { x, heads, out } => {
            let (cos, sin, _) = rope.expect("RoPE configs have tables");
            calls::rope(sh("rope.wgsl"), t, heads, l.g.config.head_dim, 0, [b(x), cos, sin, b(out)])
        }
        Op::Attention { q, k, v, out } => {
            let lay = l.layout();
            let s = l.plan.scratch("attention.lse", 8 * (lay.heads * t) as u64);
            stats.push(s);
            calls::attention_forward(lay, [b(q), b(k), b(v)], s, (b(out), 0))
        }
        Op::Gelu { x, len, out } => calls::gelu(sh("gelu.wgsl"), false, len, b(x), b(out)),
        Op::SwiGlu { gate, up, len, out } => calls::silu(sh("silu.wgsl"), len, b(gate), Some(b(up)), b(out)),
    };
    l.calls.push(call);
}

fn backward(l: &mut Lowering, op: &Op, ids: BufferId, ones: BufferId, rope: Rope, stats: &mut Vec<BufferId>) {
    let t = l.g.tokens;
    let out = op.out();
    let Some(dy) = l.grads[out] else { return };
    assert_eq!(dy.off, 0, "activation gradients start at 0");
    let b = |l: &Lowering, id: TensorId| l.buf[id];
    match *op {
        Op::Embed { table, hidden, .. } => {
            let vocab = l.g.tensors[table].len / hidden;
            let d = l.fresh(table, vocab * hidden);
            l.calls.push(calls::embedding_grad(EmbeddingDims { tokens: t, vocab, hidden }, ids, dy.buf, d.buf));
            l.accumulate(table, d);
        }
        Op::Add { a, b: bias, len, b_len, .. } => {
            l.accumulate(a, dy);
            if b_len == len {
                l.accumulate(bias, dy);
            } else {
                // A bias: its gradient sums dy's rows, onesᵀ dy, as matmul_grad's grad_weight.
                let d = l.fresh(bias, b_len);
                let [_, gw] = calls::matmul_grad(calls::MatmulGrad {
                    m: len / b_len,
                    k: 1,
                    n: b_len,
                    x: ones,
                    w: ones,
                    dy: dy.buf,
                    dx: (d.buf, 0),
                    dw: (d.buf, 0),
                });
                l.calls.push(gw);
                l.accumulate(bias, d);
            }
        }
        Op::Norm { rms, x, gamma, beta, cols, .. } => {
            let n = t * cols;
            let all = l.scratch(&format!("d{}", l.g.tensors[out].name), n + 2 * cols);
            let st = l.plan.scratch("norm.stats", 8 * t as u64);
            let offs = calls::NormOffsets { dx: (all, 0), dgamma: (all, n), dbeta: (all, n + cols) };
            let d = RowsDims { rows: t, cols };
            l.calls.extend(calls::norm_grad(rms, d, b(l, x), b(l, gamma), dy.buf, st, offs));
            l.accumulate(x, Grad { buf: all, off: 0, len: n });
            l.accumulate(gamma, Grad { buf: all, off: n, len: cols });
            if let Some(beta) = beta {
                l.accumulate(beta, Grad { buf: all, off: n + cols, len: cols });
            }
        }
        Op::Matmul { x, w, k, n, .. } => {
            let (dx, dw) = (l.fresh(x, t * k), l.fresh(w, k * n));
            l.calls.extend(calls::matmul_grad(calls::MatmulGrad {
                m: t,
                k,
                n,
                x: b(l, x),
                w: b(l, w),
                dy: dy.buf,
                dx: (dx.buf, 0),
                dw: (dw.buf, 0),
            }));
            l.accumulate(x, dx);
            l.accumulate(w, dw);
        }
        Op::MatmulT { x, w, k, n, .. } => {
            // out = x w^T: dx = dy w (a plain product), dw = dy^T x (grad_weight with dy as x).
            let (dx, dw) = (l.fresh(x, t * k), l.fresh(w, n * k));
            let dims = MatmulDims { m: t, n: k, k: n, batch: 1 };
            l.calls.push(calls::matmul(sh("matmul_f32.wgsl"), dims, dy.buf, b(l, w), dx.buf));
            let [_, gw] = calls::matmul_grad(calls::MatmulGrad {
                m: t,
                k: n,
                n: k,
                x: dy.buf,
                w: b(l, w),
                dy: b(l, x),
                dx: (dw.buf, 0),
                dw: (dw.buf, 0),
            });
            l.calls.push(gw);
            l.accumulate(x, dx);
            l.accumulate(w, dw);
        }
        Op::Rope { x, heads, .. } => {
            // The rotation's transpose: the same rotation by -theta.
            let (cos, _, sin_neg) = rope.expect("RoPE configs have tables");
            let hd = l.g.config.head_dim;
            let d = l.fresh(x, t * heads * hd);
            l.calls.push(calls::rope(sh("rope.wgsl"), t, heads, hd, 0, [dy.buf, cos, sin_neg, d.buf]));
            l.accumulate(x, d);
        }
        Op::Attention { q, k, v, .. } => {
            let lay = l.layout();
            let s = stats.pop().expect("each attention's forward kept its statistics");
            let (dq, dk, dv) = (
                l.fresh(q, t * lay.heads * lay.head_dim),
                l.fresh(k, t * lay.kv_heads * lay.head_dim),
                l.fresh(v, t * lay.kv_heads * lay.head_dim),
            );
            let outs = [(dq.buf, 0), (dk.buf, 0), (dv.buf, 0)];
            l.calls.extend(calls::attention_grad(lay, [b(l, q), b(l, k), b(l, v), dy.buf], s, outs));
            l.accumulate(q, dq);
            l.accumulate(k, dk);
            l.accumulate(v, dv);
        }
        Op::Gelu { x, len, .. } => {
            let d = l.fresh(x, len);
            l.calls.push(calls::activation_grad(calls::Activation::GeluTanh, len, b(l, x), None, dy.buf, (d.buf, 0)));
            l.accumulate(x, d);
        }
        Op::SwiGlu { gate, up, len, .. } => {
            let (dg, du) = (l.fresh(gate, len), l.fresh(up, len));
            let (gb, ub) = (b(l, gate), b(l, up));
            l.calls.push(calls::activation_grad(calls::Activation::SwiGluGate, len, gb, Some(ub), dy.buf, (dg.buf, 0)));
            l.calls.push(calls::activation_grad(calls::Activation::SwiGluUp, len, gb, Some(ub), dy.buf, (du.buf, 0)));
            l.accumulate(gate, dg);
            l.accumulate(up, du);
        }
    }
}
