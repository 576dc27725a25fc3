//! The training kernels: the backward pass of each forward family (its input and parameter
//! gradients given the output's gradient `dy`), the fused softmax cross-entropy loss that starts
//! a backward pass, and the AdamW update that ends a training step. References are
//! [`crate::grad`]'s f64 derivations (each checked there against finite differences); every
//! kernel with several gradients writes them into one output buffer, one after another, so the
//! check covers all of them. Each family's dispatches are [`Call`]s a training step chains.

use super::{BackwardInputs, Inputs, KernelImpl, NormInputs, ParamError, ParamSpec, check};
use crate::catalogue::Params;
use crate::grad;
use crate::op::{AttentionDims, EmbeddingDims, GradOp, Op, RowsDims};
use crate::plan::{BufferId, Call, OutputType, Plan, UniformValue, grid_stride, rows_grid};
use crate::reference;
use crate::rng::InputRng;
use crate::schema::{Mode, Work};
use crate::shaders::{self, Shader};

use super::inputs::{AdamWInputs, CrossEntropyInputs};
use super::{AttentionInputs, EmbeddingInputs, GluInputs, MatmulInputs, UnaryInputs};

/// Which backward (or loss, or update) kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backward {
    /// `y = x w`: `dx = dy w^T`, `dw = x^T dy`; output dx then dw.
    Matmul,
    /// LayerNorm (`rms: false`: dx, dgamma, dbeta) or RMSNorm (dx, dgamma).
    Norm {
        rms: bool,
    },
    /// From the forward's output y: `dx = y (dy - sum(dy y))`.
    Softmax,
    Gelu {
        erf: bool,
    },
    Silu,
    /// dgate then dup.
    SwiGlu,
    /// Mean cross-entropy against target ids: dlogits then each row's loss.
    CrossEntropy,
    /// The table's gradient: dy rows summed into their ids' rows.
    Embedding,
    /// Causal attention: dq, dk, dv. Flash-style (probabilities recomputed from saved
    /// log-sum-exps) or `unfused` (probabilities and score gradients materialised).
    Attention {
        unfused: bool,
    },
    /// One AdamW step: p', m', v'.
    AdamW,
}

/// The optimiser every training kernel and step uses: PyTorch's AdamW defaults, weight decay
/// 0.01, and a learning rate a short run visibly descends with.
pub const ADAMW: grad::AdamW = grad::AdamW { lr: 1e-3, ..grad::AdamW::DEFAULT };

const MATMUL_SPEC: &[ParamSpec] = &[
    ParamSpec::new("m", 1, 1 << 20, "rows of x and dy (tokens)"),
    ParamSpec::new("k", 1, 1 << 20, "input features (rows of w)"),
    ParamSpec::new("n", 1, 1 << 20, "output features (columns of w)"),
];
const ROWS_SPEC: &[ParamSpec] = &[
    ParamSpec::new("rows", 1, 1 << 26, "independent rows, one workgroup each"),
    ParamSpec::new("cols", 1, 1 << 24, "elements per row"),
];
const LEN_SPEC: &[ParamSpec] = &[ParamSpec::new("len", 1, 1 << 30, "elements")];
const CE_SPEC: &[ParamSpec] = &[
    ParamSpec::new("rows", 1, 1 << 26, "token positions, one workgroup each"),
    ParamSpec::new("vocab", 2, 1 << 24, "classes (logits per row)"),
];
const EMBEDDING_SPEC: &[ParamSpec] = &[
    ParamSpec::new("tokens", 1, 1 << 20, "ids looked up"),
    ParamSpec::new("vocab", 1, 1 << 24, "table rows"),
    ParamSpec::new("hidden", 1, 1 << 16, "table columns"),
];
const ATTENTION_SPEC: &[ParamSpec] = &[
    ParamSpec::new("batch", 1, 65535, "sequences"),
    ParamSpec::new("heads", 1, 65535, "attention heads"),
    ParamSpec::new("seq_len", 1, 65535, "tokens per sequence"),
    ParamSpec::new("head_dim", 4, 128, "features per head, a multiple of 4, at most 128 (registers)"),
];
const ADAMW_SPEC: &[ParamSpec] = &[
    ParamSpec::new("len", 1, 1 << 30, "parameters"),
    ParamSpec::new("step", 1, 1 << 20, "the step number t (from 1), for the bias corrections"),
];

fn rows(p: &Params) -> RowsDims {
    RowsDims { rows: p.usize("rows"), cols: p.usize("cols") }
}

fn attention_dims(p: &Params) -> AttentionDims {
    let seq_len = p.usize("seq_len");
    AttentionDims {
        batch: p.usize("batch"),
        heads: p.usize("heads"),
        seq_len,
        head_dim: p.usize("head_dim"),
        window: seq_len,
    }
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

fn f32s(parts: &[&[f64]]) -> Vec<f32> {
    parts.iter().flat_map(|p| p.iter().map(|&x| x as f32)).collect()
}

fn backward(i: &Inputs) -> &BackwardInputs {
    i.backward()
}

impl KernelImpl for Backward {
    fn op(&self, p: &Params) -> Op {
        Op::Grad(match self {
            Backward::Matmul => GradOp::Matmul { m: p.usize("m"), k: p.usize("k"), n: p.usize("n") },
            Backward::Norm { rms: false } => GradOp::LayerNorm(rows(p)),
            Backward::Norm { rms: true } => GradOp::RmsNorm(rows(p)),
            Backward::Softmax => GradOp::Softmax(rows(p)),
            Backward::Gelu { erf } => GradOp::Gelu { len: p.usize("len"), erf: *erf },
            Backward::Silu => GradOp::Silu { len: p.usize("len") },
            Backward::SwiGlu => GradOp::SwiGlu { len: p.usize("len") },
            Backward::CrossEntropy => GradOp::CrossEntropy {
                dims: RowsDims { rows: p.usize("rows"), cols: p.usize("vocab") },
                dtype: crate::catalogue::DType::F32,
            },
            Backward::Embedding => GradOp::Embedding(EmbeddingDims {
                tokens: p.usize("tokens"),
                vocab: p.usize("vocab"),
                hidden: p.usize("hidden"),
            }),
            Backward::Attention { .. } => GradOp::Attention(attention_dims(p)),
            Backward::AdamW => {
                GradOp::AdamW { len: p.usize("len"), step: p.get("step"), dtype: crate::catalogue::DType::F32 }
            }
        })
    }

    fn mode(&self) -> Mode {
        Mode::Training
    }

    fn spec(&self) -> &'static [ParamSpec] {
        match self {
            Backward::Matmul => MATMUL_SPEC,
            Backward::Norm { .. } | Backward::Softmax => ROWS_SPEC,
            Backward::Gelu { .. } | Backward::Silu | Backward::SwiGlu => LEN_SPEC,
            Backward::CrossEntropy => CE_SPEC,
            Backward::Embedding => EMBEDDING_SPEC,
            Backward::Attention { .. } => ATTENTION_SPEC,
            Backward::AdamW => ADAMW_SPEC,
        }
    }

    fn validate(&self, p: &Params) -> Result<(), ParamError> {
        if matches!(self, Backward::Attention { .. }) {
            let hd = p.get("head_dim");
            check("head_dim", hd, hd.is_multiple_of(4), "must be a multiple of 4 (vec4 loads)")?;
        }
        Ok(())
    }

    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let mut rng = InputRng::new(seed);
        let with_dy = |forward: Inputs, rng: &mut InputRng, n: usize| {
            Inputs::Backward(BackwardInputs { forward: Box::new(forward), dy: rng.vec(n, -1.0, 1.0) })
        };
        match self {
            Backward::Matmul => {
                let (m, k, n) = (p.usize("m"), p.usize("k"), p.usize("n"));
                let f = Inputs::Matmul(MatmulInputs { a: rng.vec(m * k, -1.0, 1.0), b: rng.vec(k * n, -1.0, 1.0) });
                with_dy(f, &mut rng, m * n)
            }
            Backward::Norm { .. } => {
                let (r, c) = (p.usize("rows"), p.usize("cols"));
                // Per-row offsets, as the forward's inputs: the mean must really be subtracted.
                let mut x = Vec::with_capacity(r * c);
                for _ in 0..r {
                    let off = rng.uniform(-20.0, 20.0);
                    x.extend((0..c).map(|_| off + rng.uniform(-2.0, 2.0)));
                }
                let f = Inputs::Norm(NormInputs { x, gamma: rng.vec(c, 0.5, 1.5), beta: rng.vec(c, -0.5, 0.5) });
                with_dy(f, &mut rng, r * c)
            }
            Backward::Softmax => {
                let (r, c) = (p.usize("rows"), p.usize("cols"));
                // The saved activation is the forward's output: real probabilities.
                let y = reference::softmax_rows(&rng.vec(r * c, -4.0, 4.0), r, c);
                with_dy(Inputs::Unary(UnaryInputs { x: y }), &mut rng, r * c)
            }
            Backward::Gelu { .. } | Backward::Silu => {
                let n = p.usize("len");
                with_dy(Inputs::Unary(UnaryInputs { x: rng.vec(n, -6.0, 6.0) }), &mut rng, n)
            }
            Backward::SwiGlu => {
                let n = p.usize("len");
                let f = Inputs::Glu(GluInputs { gate: rng.vec(n, -8.0, 8.0), up: rng.vec(n, -2.0, 2.0) });
                with_dy(f, &mut rng, n)
            }
            Backward::CrossEntropy => {
                let (r, v) = (p.usize("rows"), p.usize("vocab"));
                let logits = rng.vec(r * v, -6.0, 6.0);
                let targets = (0..r).map(|_| rng.below(v as u32)).collect();
                Inputs::CrossEntropy(CrossEntropyInputs { logits, targets })
            }
            Backward::Embedding => {
                let (t, v, h) = (p.usize("tokens"), p.usize("vocab"), p.usize("hidden"));
                // Ids drawn with replacement from a small range, so rows really accumulate.
                let ids = (0..t).map(|_| rng.below((v as u32).min(t.div_ceil(2) as u32).max(1))).collect();
                with_dy(Inputs::Embedding(EmbeddingInputs { table: vec![], ids }), &mut rng, t * h)
            }
            Backward::Attention { .. } => {
                let d = attention_dims(p);
                let n = d.batch * d.heads * d.seq_len * d.head_dim;
                let f = Inputs::Attention(AttentionInputs {
                    q: rng.vec(n, -1.0, 1.0),
                    k: rng.vec(n, -1.0, 1.0),
                    v: rng.vec(n, -1.0, 1.0),
                });
                with_dy(f, &mut rng, n)
            }
            Backward::AdamW => {
                let n = p.usize("len");
                Inputs::AdamW(AdamWInputs {
                    p: rng.vec(n, -1.0, 1.0),
                    g: rng.vec(n, -1.0, 1.0),
                    m: rng.vec(n, -0.1, 0.1),
                    v: rng.vec(n, 0.0, 0.01),
                })
            }
        }
    }

    fn reference(&self, p: &Params, i: &Inputs) -> Vec<f32> {
        match self {
            Backward::Matmul => {
                let b = backward(i);
                let f = b.forward.matmul();
                let (dx, dw) = grad::matmul_backward(
                    &f64s(&f.a),
                    &f64s(&f.b),
                    &f64s(&b.dy),
                    p.usize("m"),
                    p.usize("k"),
                    p.usize("n"),
                );
                f32s(&[&dx, &dw])
            }
            Backward::Norm { rms } => {
                let b = backward(i);
                let f = b.forward.norm();
                let (r, c, eps) = (p.usize("rows"), p.usize("cols"), f64::from(super::NORM_EPS));
                if *rms {
                    let (dx, dg) = grad::rmsnorm_backward(&f64s(&f.x), &f64s(&f.gamma), &f64s(&b.dy), r, c, eps);
                    f32s(&[&dx, &dg])
                } else {
                    let (dx, dg, db) = grad::layernorm_backward(&f64s(&f.x), &f64s(&f.gamma), &f64s(&b.dy), r, c, eps);
                    f32s(&[&dx, &dg, &db])
                }
            }
            Backward::Softmax => {
                let b = backward(i);
                let dx =
                    grad::softmax_backward(&f64s(&b.forward.unary().x), &f64s(&b.dy), p.usize("rows"), p.usize("cols"));
                f32s(&[&dx])
            }
            Backward::Gelu { erf } => {
                let b = backward(i);
                f32s(&[&grad::gelu_backward(&f64s(&b.forward.unary().x), &f64s(&b.dy), *erf)])
            }
            Backward::Silu => {
                // silu = swiglu with up = 1.
                let b = backward(i);
                let x = f64s(&b.forward.unary().x);
                f32s(&[&grad::swiglu_backward(&x, &vec![1.0; x.len()], &f64s(&b.dy)).0])
            }
            Backward::SwiGlu => {
                let b = backward(i);
                let g = b.forward.glu();
                let (dg, du) = grad::swiglu_backward(&f64s(&g.gate), &f64s(&g.up), &f64s(&b.dy));
                f32s(&[&dg, &du])
            }
            Backward::CrossEntropy => {
                let ce = i.cross_entropy();
                let (r, v) = (p.usize("rows"), p.usize("vocab"));
                let logits = f64s(&ce.logits);
                let (mut d, mut losses) = (Vec::with_capacity(r * v), Vec::with_capacity(r));
                for row in 0..r {
                    let (loss, g) = grad::cross_entropy(&logits[row * v..][..v], &ce.targets[row..=row], 1, v);
                    d.extend(g.iter().map(|x| x / r as f64));
                    losses.push(loss);
                }
                f32s(&[&d, &losses])
            }
            Backward::Embedding => {
                let b = backward(i);
                let ids = &b.forward.embedding().ids;
                f32s(&[&grad::embedding_backward(ids, &f64s(&b.dy), p.usize("vocab"), p.usize("hidden"))])
            }
            Backward::Attention { .. } => {
                let b = backward(i);
                let (f, d) = (b.forward.attention(), attention_dims(p));
                let shape = (d.batch * d.heads, d.seq_len, d.head_dim, d.window);
                let (dq, dk, dv) = grad::attention_backward(&f64s(&f.q), &f64s(&f.k), &f64s(&f.v), &f64s(&b.dy), shape);
                f32s(&[&dq, &dk, &dv])
            }
            Backward::AdamW => {
                let a = i.adamw();
                let (mut pp, mut m, mut v) = (f64s(&a.p), f64s(&a.m), f64s(&a.v));
                ADAMW.step(p.get("step"), &mut pp, &f64s(&a.g), &mut m, &mut v);
                f32s(&[&pp, &m, &v])
            }
        }
    }

    fn work(&self, p: &Params) -> Work {
        let op = self.op(p);
        let Op::Grad(g) = op else { unreachable!("backward kernels make Op::Grad") };
        g.work()
    }

    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let mut plan = Plan::new(shader);
        let Op::Grad(op) = self.op(p) else { unreachable!("backward kernels make Op::Grad") };
        let out_len = op.output_len();
        let calls = match (self, op) {
            (Backward::Matmul, GradOp::Matmul { m, k, n }) => {
                let (b, f) = (backward(i), backward(i).forward.matmul());
                let x = plan.storage_f32("x", &f.a);
                let w = plan.storage_f32("w", &f.b);
                let dy = plan.storage_f32("dy", &b.dy);
                let g = plan.output("grad", out_len, OutputType::F32);
                matmul_calls(MatmulGrad { m, k, n, x, w, dy, dx: (g, 0), dw: (g, m * k) }).to_vec()
            }
            (Backward::Norm { rms }, GradOp::LayerNorm(d) | GradOp::RmsNorm(d)) => {
                let (b, f) = (backward(i), backward(i).forward.norm());
                let x = plan.storage_f32("x", &f.x);
                let gamma = plan.storage_f32("gamma", &f.gamma);
                let dy = plan.storage_f32("dy", &b.dy);
                let stats = plan.scratch("stats", (d.rows * 8) as u64);
                let g = plan.output("grad", out_len, OutputType::F32);
                let n = d.rows * d.cols;
                let offs = NormOffsets { dx: (g, 0), dgamma: (g, n), dbeta: (g, n + d.cols) };
                norm_calls(*rms, d, x, gamma, dy, stats, offs).to_vec()
            }
            (Backward::Softmax, GradOp::Softmax(d)) => {
                let b = backward(i);
                let y = plan.storage_f32("y", &b.forward.unary().x);
                let dy = plan.storage_f32("dy", &b.dy);
                let g = plan.output("grad", out_len, OutputType::F32);
                vec![softmax_call(d, y, dy, g)]
            }
            (Backward::Gelu { .. } | Backward::Silu, GradOp::Gelu { len, .. } | GradOp::Silu { len }) => {
                let b = backward(i);
                let x = plan.storage_f32("x", &b.forward.unary().x);
                let dy = plan.storage_f32("dy", &b.dy);
                let g = plan.output("grad", out_len, OutputType::F32);
                let entry = match op {
                    GradOp::Gelu { erf: true, .. } => Activation::GeluErf,
                    GradOp::Gelu { erf: false, .. } => Activation::GeluTanh,
                    _ => Activation::Silu,
                };
                vec![activation_call(entry, len, x, None, dy, (g, 0))]
            }
            (Backward::SwiGlu, GradOp::SwiGlu { len }) => {
                let (b, f) = (backward(i), backward(i).forward.glu());
                let x = plan.storage_f32("x", &f.gate);
                let up = plan.storage_f32("up", &f.up);
                let dy = plan.storage_f32("dy", &b.dy);
                let g = plan.output("grad", out_len, OutputType::F32);
                vec![
                    activation_call(Activation::SwiGluGate, len, x, Some(up), dy, (g, 0)),
                    activation_call(Activation::SwiGluUp, len, x, Some(up), dy, (g, len)),
                ]
            }
            (Backward::CrossEntropy, GradOp::CrossEntropy { dims: d, .. }) => {
                let ce = i.cross_entropy();
                let logits = plan.storage_f32("logits", &ce.logits);
                let targets = plan.storage_bytes("targets", bytemuck::cast_slice(&ce.targets).to_vec());
                let g = plan.output("grad", out_len, OutputType::F32);
                vec![cross_entropy_call(shader, d, logits, targets, g, d.rows * d.cols)]
            }
            (Backward::Embedding, GradOp::Embedding(d)) => {
                let b = backward(i);
                let ids = plan.storage_bytes("ids", bytemuck::cast_slice(&b.forward.embedding().ids).to_vec());
                let dy = plan.storage_f32("dy", &b.dy);
                let g = plan.output("grad", out_len, OutputType::F32);
                vec![embedding_call(d, ids, dy, g)]
            }
            (Backward::Attention { unfused }, GradOp::Attention(d)) => {
                let (b, f) = (backward(i), backward(i).forward.attention());
                let q = plan.storage_f32("q", &f.q);
                let k = plan.storage_f32("k", &f.k);
                let v = plan.storage_f32("v", &f.v);
                let dout = plan.storage_f32("dout", &b.dy);
                let rows = d.batch * d.heads * d.seq_len;
                let g = plan.output("grad", out_len, OutputType::F32);
                let layout = AttnLayout {
                    heads: d.batch * d.heads,
                    kv_heads: d.batch * d.heads,
                    seq_len: d.seq_len,
                    head_dim: d.head_dim,
                    window: d.window,
                    token_major: false,
                };
                let n = rows * d.head_dim;
                let outs = [(g, 0), (g, n), (g, 2 * n)];
                if *unfused {
                    let scores = (rows * d.seq_len * 4) as u64;
                    let probs = plan.scratch("probs", scores);
                    let dscores = plan.scratch("dscores", scores);
                    attention_unfused_calls(shader, layout, [q, k, v, dout], [probs, dscores], outs).to_vec()
                } else {
                    let stats = plan.scratch("stats", (rows * 8) as u64);
                    attention_calls(layout, [q, k, v, dout], stats, outs).to_vec()
                }
            }
            (Backward::AdamW, GradOp::AdamW { len, step, .. }) => {
                let a = i.adamw();
                let bufs = [
                    plan.storage_f32("p", &a.p),
                    plan.storage_f32("g", &a.g),
                    plan.storage_f32("m", &a.m),
                    plan.storage_f32("v", &a.v),
                ];
                let out = plan.output("out", out_len, OutputType::F32);
                let mut call = adamw_call(shader, len, step);
                call.bindings = vec![("p", bufs[0]), ("g", bufs[1]), ("m", bufs[2]), ("v", bufs[3]), ("out", out)];
                vec![call]
            }
            (kind, op) => unreachable!("{kind:?} made {op:?}"),
        };
        let label = format!("{self:?}").to_lowercase();
        let pass = plan.pass(&label, calls);
        plan.timed.push(pass);
        plan
    }
}

impl GradOp {
    /// Elements of the kernel's checked output (its gradients one after another).
    pub fn output_len(&self) -> usize {
        match *self {
            GradOp::Matmul { m, k, n } => m * k + k * n,
            GradOp::LayerNorm(d) => d.rows * d.cols + 2 * d.cols,
            GradOp::RmsNorm(d) => d.rows * d.cols + d.cols,
            GradOp::Softmax(d) => d.rows * d.cols,
            GradOp::Gelu { len, .. } | GradOp::Silu { len } => len,
            GradOp::SwiGlu { len } => 2 * len,
            GradOp::CrossEntropy { dims: d, .. } => d.rows * d.cols + d.rows,
            GradOp::Embedding(d) => d.vocab * d.hidden,
            GradOp::Attention(d) => 3 * d.batch * d.heads * d.seq_len * d.head_dim,
            GradOp::AdamW { len, .. } => 3 * len,
        }
    }

    /// Useful flops and compulsory bytes. Attention counts the five products of its backward
    /// (S recomputed, dV, dP, dQ, dK), 2.5 times the forward's, as flash-attention papers do.
    pub fn work(&self) -> Work {
        let f = |v: usize| v as f64;
        match *self {
            GradOp::Matmul { m, k, n } => {
                Work { flops: 4.0 * f(m * k * n), bytes: 4.0 * f(2 * m * k + 2 * k * n + m * n) }
            }
            GradOp::LayerNorm(d) | GradOp::RmsNorm(d) => {
                let n = f(d.rows * d.cols);
                Work { flops: 12.0 * n, bytes: 4.0 * (3.0 * n + 3.0 * f(d.cols)) }
            }
            GradOp::Softmax(d) => Work { flops: 4.0 * f(d.rows * d.cols), bytes: 12.0 * f(d.rows * d.cols) },
            GradOp::Gelu { len, erf } => Work { flops: if erf { 20.0 } else { 16.0 } * f(len), bytes: 12.0 * f(len) },
            GradOp::Silu { len } => Work { flops: 8.0 * f(len), bytes: 12.0 * f(len) },
            GradOp::SwiGlu { len } => Work { flops: 11.0 * f(len), bytes: 20.0 * f(len) },
            GradOp::CrossEntropy { dims: d, .. } => {
                let n = f(d.rows * d.cols);
                Work { flops: 6.0 * n, bytes: 8.0 * n + 12.0 * f(d.rows) }
            }
            GradOp::Embedding(d) => Work {
                flops: f(d.tokens * d.hidden),
                bytes: 4.0 * f(d.tokens * d.hidden + d.vocab * d.hidden + d.tokens),
            },
            GradOp::Attention(d) => {
                let (n, w) = (f(d.seq_len), f(d.window.min(d.seq_len)));
                let pairs = w * (w + 1.0) / 2.0 + (n - w) * w;
                let bh = f(d.batch * d.heads);
                Work { flops: 10.0 * bh * pairs * f(d.head_dim), bytes: 28.0 * bh * n * f(d.head_dim) }
            }
            GradOp::AdamW { len, .. } => Work { flops: 14.0 * f(len), bytes: 28.0 * f(len) },
        }
    }
}

/// A destination: a buffer and the element offset the result starts at.
pub(crate) type At = (BufferId, usize);

/// The buffers of a linear layer's backward.
pub(crate) struct MatmulGrad {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub x: BufferId,
    pub w: BufferId,
    pub dy: BufferId,
    pub dx: At,
    pub dw: At,
}

fn shader(file: &str) -> &'static Shader {
    shaders::by_file(file)
}

/// dx then dw of `y = x w`: 16 x 16 tiles over the output.
pub(crate) fn matmul_calls(g: MatmulGrad) -> [Call; 2] {
    let s = shader("matmul_grad.wgsl");
    let (m, k, n) = (g.m as u32, g.k as u32, g.n as u32);
    let dims = |off: usize| vec![("m", m.into()), ("k", k.into()), ("n", n.into()), ("off", (off as u32).into())];
    let bind = |out: BufferId| vec![("x", g.x), ("w", g.w), ("dy", g.dy), ("grad", out)];
    [
        Call {
            shader: s,
            entry_point: "grad_input",
            dims: dims(g.dx.1),
            bindings: bind(g.dx.0),
            workgroups: [k.div_ceil(16), m.div_ceil(16), 1],
        },
        Call {
            shader: s,
            entry_point: "grad_weight",
            dims: dims(g.dw.1),
            bindings: bind(g.dw.0),
            workgroups: [n.div_ceil(16), k.div_ceil(16), 1],
        },
    ]
}

/// Where a norm's gradients go. dx, dgamma and dbeta must share a buffer (one `grad` binding);
/// RMSNorm ignores `dbeta`.
pub(crate) struct NormOffsets {
    pub dx: At,
    pub dgamma: At,
    pub dbeta: At,
}

/// The rows pass (dx and each row's statistics), then the columns pass (dgamma, dbeta).
pub(crate) fn norm_calls(
    rms: bool,
    d: RowsDims,
    x: BufferId,
    gamma: BufferId,
    dy: BufferId,
    stats: BufferId,
    o: NormOffsets,
) -> [Call; 2] {
    assert!(o.dx.0 == o.dgamma.0 && o.dx.1 == 0, "norm_grad.wgsl writes dx at 0 of the shared grad buffer");
    let s = shader("norm_grad.wgsl");
    let dims = vec![
        ("rows", (d.rows as u32).into()),
        ("cols", (d.cols as u32).into()),
        ("eps", super::NORM_EPS.into()),
        ("dgamma_off", (o.dgamma.1 as u32).into()),
        ("dbeta_off", (o.dbeta.1 as u32).into()),
    ];
    let bindings = vec![("x", x), ("gamma", gamma), ("dy", dy), ("stats", stats), ("grad", o.dx.0)];
    let (r, c) = if rms { ("rmsnorm_rows", "rmsnorm_columns") } else { ("layernorm_rows", "layernorm_columns") };
    [
        Call {
            shader: s,
            entry_point: r,
            dims: dims.clone(),
            bindings: bindings.clone(),
            workgroups: rows_grid(d.rows as u32),
        },
        Call { shader: s, entry_point: c, dims, bindings, workgroups: grid_stride(d.cols) },
    ]
}

pub(crate) fn softmax_call(d: RowsDims, y: BufferId, dy: BufferId, grad: BufferId) -> Call {
    Call {
        shader: shader("softmax_grad.wgsl"),
        entry_point: "main",
        dims: vec![("rows", (d.rows as u32).into()), ("cols", (d.cols as u32).into())],
        bindings: vec![("y", y), ("dy", dy), ("grad", grad)],
        workgroups: rows_grid(d.rows as u32),
    }
}

/// The activation whose derivative an activation_grad.wgsl entry point applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activation {
    GeluTanh,
    GeluErf,
    Silu,
    /// SwiGLU's gradient with respect to the gate.
    SwiGluGate,
    /// SwiGLU's gradient with respect to up.
    SwiGluUp,
}

/// dx = dy f'(x) (for SwiGLU one of its two gradients, `x` the gate) into `out`.
pub(crate) fn activation_call(
    a: Activation,
    len: usize,
    x: BufferId,
    up: Option<BufferId>,
    dy: BufferId,
    out: At,
) -> Call {
    let entry_point = match a {
        Activation::GeluTanh => "gelu_tanh",
        Activation::GeluErf => "gelu_erf",
        Activation::Silu => "silu",
        Activation::SwiGluGate => "swiglu_gate",
        Activation::SwiGluUp => "swiglu_up",
    };
    let mut bindings = vec![("x", x), ("dy", dy), ("grad", out.0)];
    bindings.extend(up.map(|u| ("up", u)));
    Call {
        shader: shader("activation_grad.wgsl"),
        entry_point,
        dims: vec![("len", (len as u32).into()), ("off", (out.1 as u32).into())],
        bindings,
        workgroups: grid_stride(len),
    }
}

/// dlogits at 0 of `grad`, each row's loss from `loss_off`; the mean's 1 / rows folded in.
pub(crate) fn cross_entropy_call(
    shader: &'static Shader,
    d: RowsDims,
    logits: BufferId,
    targets: BufferId,
    grad: BufferId,
    loss_off: usize,
) -> Call {
    Call {
        shader,
        entry_point: "main",
        dims: vec![
            ("rows", (d.rows as u32).into()),
            ("vocab", (d.cols as u32).into()),
            ("loss_off", (loss_off as u32).into()),
            ("scale", (1.0 / d.rows as f32).into()),
        ],
        bindings: vec![("logits", logits), ("targets", targets), ("grad", grad)],
        workgroups: rows_grid(d.rows as u32),
    }
}

pub(crate) fn embedding_call(d: EmbeddingDims, ids: BufferId, dy: BufferId, grad: BufferId) -> Call {
    Call {
        shader: shader("embedding_grad.wgsl"),
        entry_point: "main",
        dims: vec![
            ("tokens", (d.tokens as u32).into()),
            ("vocab", (d.vocab as u32).into()),
            ("hidden", (d.hidden as u32).into()),
        ],
        bindings: vec![("ids", ids), ("dy", dy), ("grad", grad)],
        workgroups: grid_stride(d.vocab * d.hidden),
    }
}

/// How attention_grad.wgsl reads its rows: `heads` query heads (batch folded in) over
/// `kv_heads` K/V heads, head-major or token-major (a model's projections).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttnLayout {
    pub heads: usize,
    pub kv_heads: usize,
    pub seq_len: usize,
    pub head_dim: usize,
    pub window: usize,
    pub token_major: bool,
}

impl AttnLayout {
    fn dims(&self, out: At) -> crate::plan::UniformFields {
        let u = |v: usize| (v as u32).into();
        assert!(out.1.is_multiple_of(4), "attention outputs start on a vec4");
        vec![
            ("heads", u(self.heads)),
            ("kv_heads", u(self.kv_heads)),
            ("seq_len", u(self.seq_len)),
            ("head_dim", u(self.head_dim)),
            ("window", u(self.window)),
            ("scale", (1.0 / (self.head_dim as f32).sqrt()).into()),
            ("token_major", u(usize::from(self.token_major))),
            ("out_off", u(out.1 / 4)),
        ]
    }

    fn grid(rows: usize) -> [u32; 3] {
        [(rows as u32).div_ceil(64).clamp(1, 65535), 1, 1]
    }
}

/// The forward pass: O into `out`, each query row's log-sum-exp into `stats` (2 floats a row).
pub(crate) fn attention_forward_call(l: AttnLayout, [q, k, v]: [BufferId; 3], stats: BufferId, out: At) -> Call {
    Call {
        shader: shader("attention_grad.wgsl"),
        entry_point: "forward",
        dims: l.dims(out),
        bindings: vec![("q", q), ("k", k), ("v", v), ("stats", stats), ("out", out.0)],
        workgroups: AttnLayout::grid(l.heads * l.seq_len),
    }
}

/// Row statistics, then dq, dk and dv into their destinations (`outs`: dq, dk, dv).
pub(crate) fn attention_calls(
    l: AttnLayout,
    [q, k, v, dout]: [BufferId; 4],
    stats: BufferId,
    outs: [At; 3],
) -> [Call; 4] {
    let bound = [("q", q), ("k", k), ("v", v), ("dout", dout), ("stats", stats)];
    backward_dispatches(shader("attention_grad.wgsl"), l, &bound, outs)
}

/// The unfused backward (attention_grad_unfused.wgsl): P and dS into `scores` (probs,
/// dscores), then dq, dk and dv from them into `outs`.
fn attention_unfused_calls(
    s: &'static Shader,
    l: AttnLayout,
    [q, k, v, dout]: [BufferId; 4],
    [probs, dscores]: [BufferId; 2],
    outs: [At; 3],
) -> [Call; 4] {
    let bound = [("q", q), ("k", k), ("v", v), ("dout", dout), ("probs", probs), ("dscores", dscores)];
    backward_dispatches(s, l, &bound, outs)
}

/// row_stats, grad_q, grad_k and grad_v of either backward shader over the `bound` buffers,
/// each writing its gradient into its destination in `outs` (dq, dk, dv).
fn backward_dispatches(
    s: &'static Shader,
    l: AttnLayout,
    bound: &[(&'static str, BufferId)],
    outs: [At; 3],
) -> [Call; 4] {
    let call = |entry_point, out: At, rows| Call {
        shader: s,
        entry_point,
        dims: l.dims(out),
        bindings: [bound, &[("out", out.0)]].concat(),
        workgroups: AttnLayout::grid(rows),
    };
    let (qr, kr) = (l.heads * l.seq_len, l.kv_heads * l.seq_len);
    [
        call("row_stats", outs[0], qr),
        call("grad_q", outs[0], qr),
        call("grad_k", outs[1], kr),
        call("grad_v", outs[2], kr),
    ]
}

/// An AdamW dispatch over `len` parameters: [`ADAMW`]'s hyper-parameters and `extra` fields
/// (the bias corrections or the offsets) in the `dims` both AdamW shaders share; bindings are
/// the caller's.
fn adamw_dispatch(shader: &'static Shader, len: usize, extra: [(&'static str, UniformValue); 2]) -> Call {
    let o = ADAMW;
    let mut dims: crate::plan::UniformFields = vec![
        ("len", (len as u32).into()),
        ("lr", (o.lr as f32).into()),
        ("beta1", (o.beta1 as f32).into()),
        ("beta2", (o.beta2 as f32).into()),
        ("eps", (o.eps as f32).into()),
        ("weight_decay", (o.weight_decay as f32).into()),
    ];
    dims.extend(extra);
    Call { shader, entry_point: "main", dims, bindings: vec![], workgroups: grid_stride(len) }
}

/// adamw_step.wgsl over `len` parameters from `p_off` with their gradient from `g_off`; the
/// step number is on the device (`tick`).
pub(crate) fn adamw_step_call(len: usize, p_off: usize, g_off: usize) -> Call {
    let offs = [("p_off", (p_off as u32).into()), ("g_off", (g_off as u32).into())];
    adamw_dispatch(shader("adamw_step.wgsl"), len, offs)
}

/// adamw.wgsl over `len` parameters at step `step`, bias corrections folded in.
pub(crate) fn adamw_call(shader: &'static Shader, len: usize, step: u32) -> Call {
    let o = ADAMW;
    let c1 = 1.0 / (1.0 - o.beta1.powi(step as i32));
    let c2 = 1.0 / (1.0 - o.beta2.powi(step as i32));
    adamw_dispatch(shader, len, [("c1", (c1 as f32).into()), ("c2", (c2 as f32).into())])
}
