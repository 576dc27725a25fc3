//! A decoder's training step over the catalogue's kernels: the forward pass with its
//! activations kept, the mean next-token cross-entropy, the backward pass through every
//! operation (gradients of tensors read twice summed), and an AdamW update of every parameter.
//! One [`TrainGraph`] per (config, sequence length) feeds the f64 reference
//! ([`reference::train`], the ground truth), the GPU lowering ([`lower::lower`]) and records.

pub mod lower;
pub mod reference;
pub mod run;

use crate::model::{ConfigError, Tensor};
use crate::rng::InputRng;
use crate::schema::{Activation, ModelConfig, ModelFamily, NormKind, Positions};

/// Index into [`TrainGraph::tensors`].
pub type TensorId = usize;

/// What a tensor holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A trained weight (its gradient and AdamW moments exist).
    Param,
    /// Computed by the forward pass and kept for the backward.
    Activation,
}

#[derive(Clone, Debug)]
pub struct TensorDesc {
    pub name: String,
    pub len: usize,
    pub kind: Kind,
}

/// One forward operation; the backward pass visits them in reverse. Rows are token-major.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// `out[t] = table[ids[t]]`.
    Embed {
        table: TensorId,
        hidden: usize,
        out: TensorId,
    },
    /// `out[i] = a[i] + b[i % b_len]`: residuals, biases, learned positions.
    Add {
        a: TensorId,
        b: TensorId,
        len: usize,
        b_len: usize,
        out: TensorId,
    },
    Norm {
        rms: bool,
        x: TensorId,
        gamma: TensorId,
        beta: Option<TensorId>,
        cols: usize,
        out: TensorId,
    },
    /// `out = x w`, x (T, k), w (k, n).
    Matmul {
        x: TensorId,
        w: TensorId,
        k: usize,
        n: usize,
        out: TensorId,
    },
    /// `out = x w^T`, x (T, k), w (n, k): the LM head against the (vocab, hidden) table.
    MatmulT {
        x: TensorId,
        w: TensorId,
        k: usize,
        n: usize,
        out: TensorId,
    },
    /// Rotary embedding of (T, heads, head_dim) at positions 0..T.
    Rope {
        x: TensorId,
        heads: usize,
        out: TensorId,
    },
    /// Causal grouped-query attention over token-major q (T, heads, d), k and v (T, kv_heads, d).
    Attention {
        q: TensorId,
        k: TensorId,
        v: TensorId,
        out: TensorId,
    },
    Gelu {
        x: TensorId,
        len: usize,
        out: TensorId,
    },
    SwiGlu {
        gate: TensorId,
        up: TensorId,
        len: usize,
        out: TensorId,
    },
}

impl Op {
    /// The tensor the operation writes.
    pub fn out(&self) -> TensorId {
        match *self {
            Op::Embed { out, .. }
            | Op::Add { out, .. }
            | Op::Norm { out, .. }
            | Op::Matmul { out, .. }
            | Op::MatmulT { out, .. }
            | Op::Rope { out, .. }
            | Op::Attention { out, .. }
            | Op::Gelu { out, .. }
            | Op::SwiGlu { out, .. } => out,
        }
    }
}

/// A decoder's training step at one sequence length, on one fixed batch of `tokens + 1` ids
/// (inputs `ids[..tokens]`, targets `ids[1..]`).
#[derive(Clone, Debug)]
pub struct TrainGraph {
    pub config: ModelConfig,
    pub tokens: usize,
    pub tensors: Vec<TensorDesc>,
    pub ops: Vec<Op>,
    /// (T, vocab), the loss's input.
    pub logits: TensorId,
    /// Every parameter, in [`crate::model::tensors`] order.
    pub params: Vec<TensorId>,
}

/// Why a config has no training step here.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error("{name} is not a decoder ({family:?}); the training step is built for decoders (next-token loss)")]
    NotDecoder { name: String, family: ModelFamily },
    #[error("{name}: {tokens} tokens exceed the context of {context}")]
    TooLong { name: String, tokens: usize, context: usize },
    #[error("{name}: head_dim {head_dim} must be a multiple of 4 and at most 128 for attention_grad.wgsl")]
    HeadDim { name: String, head_dim: usize },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The optimiser of every training step: [`crate::kernels::ADAMW`].
pub use crate::kernels::ADAMW;

impl TrainGraph {
    pub fn build(cfg: &ModelConfig, tokens: usize) -> Result<TrainGraph, TrainError> {
        if cfg.family != ModelFamily::Decoder {
            return Err(TrainError::NotDecoder { name: cfg.name.clone(), family: cfg.family });
        }
        if tokens == 0 || tokens > cfg.context {
            return Err(TrainError::TooLong { name: cfg.name.clone(), tokens, context: cfg.context });
        }
        if !cfg.head_dim.is_multiple_of(4) || cfg.head_dim > 128 {
            return Err(TrainError::HeadDim { name: cfg.name.clone(), head_dim: cfg.head_dim });
        }
        let mut b = Builder { tensors: vec![], ops: vec![] };
        let params: Vec<(Tensor, TensorId)> = crate::model::tensors(cfg)
            .into_iter()
            .map(|t| {
                let id = b.tensor(&t.name, t.elements() as usize, Kind::Param);
                (t, id)
            })
            .collect();
        let p = |name: &str| params.iter().find(|(t, _)| t.name == name).map(|(_, id)| *id);
        let must = |name: &str| p(name).unwrap_or_else(|| panic!("model::tensors lists no `{name}`"));
        let (h, t) = (cfg.hidden, tokens);
        let tok = must("embed.tokens");
        let mut x = b.act("x.embed", t * h);
        b.ops.push(Op::Embed { table: tok, hidden: h, out: x });
        if let Some(pos) = p("embed.positions") {
            // The first T rows of the (context, hidden) table: b_len = T h reads them from 0.
            x = b.add("x.pos", x, pos, t * h, t * h);
        }
        let rms = cfg.norm == NormKind::RmsNorm;
        let norm = |b: &mut Builder, name: &str, x: TensorId| {
            let out = b.act(&format!("{name}.out"), t * h);
            let beta = p(&format!("{name}.bias"));
            b.ops.push(Op::Norm { rms, x, gamma: must(&format!("{name}.weight")), beta, cols: h, out });
            out
        };
        let linear = |b: &mut Builder, name: &str, x: TensorId, k: usize, n: usize| {
            let mut out = b.act(&format!("{name}.out"), t * n);
            b.ops.push(Op::Matmul { x, w: must(&format!("{name}.weight")), k, n, out });
            if let Some(bias) = p(&format!("{name}.bias")) {
                out = b.add(&format!("{name}.biased"), out, bias, t * n, n);
            }
            out
        };
        let (qd, kvd) = (cfg.heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim);
        for l in 0..cfg.layers {
            let pre = format!("layers.{l}");
            let n1 = norm(&mut b, &format!("{pre}.attn_norm"), x);
            let mut q = linear(&mut b, &format!("{pre}.attn.q"), n1, h, qd);
            let mut k = linear(&mut b, &format!("{pre}.attn.k"), n1, h, kvd);
            let v = linear(&mut b, &format!("{pre}.attn.v"), n1, h, kvd);
            if matches!(cfg.positions, Positions::Rope { .. }) {
                let (qr, kr) = (b.act(&format!("{pre}.q_rot"), t * qd), b.act(&format!("{pre}.k_rot"), t * kvd));
                b.ops.push(Op::Rope { x: q, heads: cfg.heads, out: qr });
                b.ops.push(Op::Rope { x: k, heads: cfg.kv_heads, out: kr });
                (q, k) = (qr, kr);
            }
            let a = b.act(&format!("{pre}.attn.ctx"), t * qd);
            b.ops.push(Op::Attention { q, k, v, out: a });
            let o = linear(&mut b, &format!("{pre}.attn.o"), a, qd, h);
            x = b.add(&format!("{pre}.residual1"), x, o, t * h, t * h);
            let n2 = norm(&mut b, &format!("{pre}.mlp_norm"), x);
            let f = cfg.ffn;
            let act = match cfg.activation {
                Activation::Gelu => {
                    let u = linear(&mut b, &format!("{pre}.mlp.up"), n2, h, f);
                    let out = b.act(&format!("{pre}.mlp.gelu"), t * f);
                    b.ops.push(Op::Gelu { x: u, len: t * f, out });
                    out
                }
                Activation::SwiGlu => {
                    let g = linear(&mut b, &format!("{pre}.mlp.gate"), n2, h, f);
                    let u = linear(&mut b, &format!("{pre}.mlp.up"), n2, h, f);
                    let out = b.act(&format!("{pre}.mlp.swiglu"), t * f);
                    b.ops.push(Op::SwiGlu { gate: g, up: u, len: t * f, out });
                    out
                }
            };
            let d = linear(&mut b, &format!("{pre}.mlp.down"), act, f, h);
            x = b.add(&format!("{pre}.residual2"), x, d, t * h, t * h);
        }
        let xf = norm(&mut b, "final_norm", x);
        let head = if cfg.tied_embeddings { tok } else { must("lm_head.weight") };
        let logits = b.act("logits", t * cfg.vocab);
        b.ops.push(Op::MatmulT { x: xf, w: head, k: h, n: cfg.vocab, out: logits });
        Ok(TrainGraph {
            config: cfg.clone(),
            tokens,
            tensors: b.tensors,
            ops: b.ops,
            logits,
            params: params.iter().map(|(_, id)| *id).collect(),
        })
    }

    /// The seeded starting weights (as inference's, [`crate::model::values`]) and the batch:
    /// `tokens + 1` ids.
    pub fn initial(&self, seed: u64) -> (Vec<Vec<f32>>, Vec<u32>) {
        let shapes = crate::model::tensors(&self.config);
        let weights = self
            .params
            .iter()
            .zip(&shapes)
            .map(|(_, t)| {
                let mut rng = InputRng::new(seed ^ crate::model::values::name_key(&t.name));
                crate::model::values::weight(&t.name, &t.shape, &mut rng)
            })
            .collect();
        let mut rng = InputRng::new(seed ^ crate::model::values::name_key("train.batch"));
        let ids = (0..=self.tokens).map(|_| rng.below(self.config.vocab as u32)).collect();
        (weights, ids)
    }

    /// Flops of one step: forward, backward (twice the forward's products) and the update.
    pub fn flops(&self) -> f64 {
        let t = self.tokens as f64;
        let mut f = 0.0;
        for op in &self.ops {
            f += match *op {
                Op::Matmul { k, n, .. } | Op::MatmulT { k, n, .. } => 6.0 * t * (k * n) as f64,
                Op::Attention { .. } => {
                    let c = &self.config;
                    // Forward 4 T^2/2 d per head, backward 2.5x that.
                    14.0 * t * (t + 1.0) / 2.0 * (c.heads * c.head_dim) as f64
                }
                _ => 0.0,
            };
        }
        f + 14.0 * self.params.iter().map(|&p| self.tensors[p].len as f64).sum::<f64>()
    }

    pub fn parameters(&self) -> usize {
        self.params.iter().map(|&p| self.tensors[p].len).sum()
    }
}

struct Builder {
    tensors: Vec<TensorDesc>,
    ops: Vec<Op>,
}

impl Builder {
    fn tensor(&mut self, name: &str, len: usize, kind: Kind) -> TensorId {
        self.tensors.push(TensorDesc { name: name.into(), len, kind });
        self.tensors.len() - 1
    }

    fn act(&mut self, name: &str, len: usize) -> TensorId {
        self.tensor(name, len, Kind::Activation)
    }

    fn add(&mut self, name: &str, a: TensorId, b: TensorId, len: usize, b_len: usize) -> TensorId {
        let out = self.act(name, len);
        self.ops.push(Op::Add { a, b, len, b_len, out });
        out
    }
}

/// Token-major (T, heads, d) to head-major (heads * group, T, d), each head repeated for the
/// `group` query heads that read it: the layout the attention backward references take.
pub fn heads_first<T: Copy>(x: &[T], t: usize, heads: usize, d: usize, group: usize) -> Vec<T> {
    let mut y = Vec::with_capacity(x.len() * group);
    for h in 0..heads * group {
        for i in 0..t {
            y.extend_from_slice(&x[(i * heads + h / group) * d..][..d]);
        }
    }
    y
}

/// Head-major (heads * group, T, d) back to token-major (T, heads, d), each group summed.
pub fn tokens_first<T: Copy + Default + std::ops::AddAssign>(
    y: &[T],
    t: usize,
    heads: usize,
    d: usize,
    group: usize,
) -> Vec<T> {
    let mut x = vec![T::default(); t * heads * d];
    for h in 0..heads * group {
        for i in 0..t {
            for (o, &v) in x[(i * heads + h / group) * d..][..d].iter_mut().zip(&y[(h * t + i) * d..][..d]) {
                *o += v;
            }
        }
    }
    x
}

/// RoPE's (T, head_dim / 2) cos and sin tables of a config with rotary positions.
pub fn rope_tables(cfg: &ModelConfig, tokens: usize) -> Option<(Vec<f32>, Vec<f32>)> {
    let Positions::Rope { theta } = cfg.positions else { return None };
    Some(crate::reference::rope_table(tokens, cfg.head_dim, theta, 0))
}

#[cfg(test)]
mod tests;
