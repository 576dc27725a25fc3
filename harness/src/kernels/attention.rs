//! Multi-head causal attention in three implementations over the same problem: unfused
//! (materialised scores), sliding-window (fused, window-bounded) and flash-style (tiled, online
//! softmax).

use super::{AttentionInputs, Inputs, KernelImpl, ParamError, ParamSpec, check};
use crate::catalogue::{DType, Params};
use crate::op::{AttentionDims, Op};
use crate::plan::{Dispatch, OutputType, Pass, Plan};
use crate::reference::{self, AttentionShape};
use crate::rng::InputRng;
use crate::schema::Work;
use crate::shaders::Shader;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionVariant {
    Unfused,
    Window,
    Flash,
}

#[derive(Debug)]
pub struct Attention {
    pub variant: AttentionVariant,
}

/// The largest window attention_window.wgsl's workgroup score buffer holds.
const MAX_WINDOW: u32 = 1024;
/// flash_attention.wgsl keeps a query row and its accumulator in registers of 32 vec4s.
const MAX_FLASH_HEAD_DIM: u32 = 128;

impl Attention {
    fn shape(&self, p: &Params) -> AttentionShape {
        let head_dim = p.usize("head_dim");
        let seq_len = p.usize("seq_len");
        AttentionShape {
            batch: p.usize("batch"),
            heads: p.usize("heads"),
            seq_len,
            head_dim,
            scale: 1.0 / (head_dim as f32).sqrt(),
            window: if self.variant == AttentionVariant::Window { p.usize("window") } else { seq_len },
        }
    }
}

const SPEC: &[ParamSpec] = &[
    ParamSpec::new("batch", 1, 65535, "sequences"),
    ParamSpec::new("heads", 1, 65535, "attention heads"),
    ParamSpec::new("seq_len", 1, 65535, "tokens per sequence (one workgroup row each)"),
    ParamSpec::new("head_dim", 4, 1024, "features per head, a multiple of 4 (vec4 loads)"),
];

const WINDOW_SPEC: &[ParamSpec] = &[
    ParamSpec::new("batch", 1, 65535, "sequences"),
    ParamSpec::new("heads", 1, 65535, "attention heads"),
    ParamSpec::new("seq_len", 1, 65535, "tokens per sequence (one workgroup row each)"),
    ParamSpec::new("head_dim", 4, 1024, "features per head, a multiple of 4 (vec4 loads)"),
    ParamSpec::new("window", 1, MAX_WINDOW, "keys each query attends to, itself included"),
];

impl KernelImpl for Attention {
    fn spec(&self) -> &'static [ParamSpec] {
        if self.variant == AttentionVariant::Window { WINDOW_SPEC } else { SPEC }
    }

    fn op(&self, p: &Params) -> Op {
        let s = self.shape(p);
        let dims = AttentionDims {
            batch: s.batch,
            heads: s.heads,
            seq_len: s.seq_len,
            head_dim: s.head_dim,
            window: s.window.min(s.seq_len),
        };
        Op::Attention { dims, variant: self.variant, dtype: DType::F32 }
    }

    fn validate(&self, p: &Params) -> Result<(), ParamError> {
        let hd = p.get("head_dim");
        check("head_dim", hd, hd.is_multiple_of(4), "must be a multiple of 4 (vec4 loads)")?;
        if self.variant == AttentionVariant::Flash {
            check("head_dim", hd, hd <= MAX_FLASH_HEAD_DIM, "at most 128 for the flash kernel")?;
        }
        Ok(())
    }

    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let s = self.shape(p);
        let n = s.batch * s.heads * s.seq_len * s.head_dim;
        let mut rng = InputRng::new(seed);
        Inputs::Attention(AttentionInputs {
            q: rng.vec(n, -1.0, 1.0),
            k: rng.vec(n, -1.0, 1.0),
            v: rng.vec(n, -1.0, 1.0),
        })
    }

    fn reference(&self, p: &Params, i: &Inputs) -> Vec<f32> {
        let i = i.attention();
        reference::attention(&i.q, &i.k, &i.v, self.shape(p))
    }

    fn work(&self, p: &Params) -> Work {
        let s = self.shape(p);
        let (bh, n, d) = ((s.batch * s.heads) as f64, s.seq_len as f64, s.head_dim as f64);
        // Keys attended over all queries: sum_i min(i + 1, window).
        let w = s.window.min(s.seq_len) as f64;
        let pairs = w * (w + 1.0) / 2.0 + (n - w) * w;
        // QK^T and PV: 2 flops per multiply-add, 2 products per (query, key, dim).
        let flops = bh * pairs * d * 4.0;
        let qkvo = 4.0 * bh * n * d * 4.0;
        let bytes = match self.variant {
            // Written once, then read and written by softmax, then read by context.
            AttentionVariant::Unfused => qkvo + 4.0 * bh * pairs * 4.0,
            _ => qkvo,
        };
        Work { flops, bytes }
    }

    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let s = self.shape(p);
        let (b, h, n, d) = (s.batch as u32, s.heads as u32, s.seq_len as u32, s.head_dim as u32);
        let mut plan = Plan::new(shader);
        let u = plan.uniform(
            "dims",
            &[
                ("batch", b.into()),
                ("heads", h.into()),
                ("seq_len", n.into()),
                ("head_dim", d.into()),
                ("scale", s.scale.into()),
                ("window", (s.window.min(s.seq_len) as u32).into()),
            ],
        );
        let i = i.attention();
        let q = plan.storage_f32("q", &i.q);
        let k = plan.storage_f32("k", &i.k);
        let v = plan.storage_f32("v", &i.v);
        let dispatch = |entry_point, bindings, workgroups| Dispatch { shader: None, entry_point, bindings, workgroups };
        let dispatches = match self.variant {
            AttentionVariant::Unfused => {
                let probs = plan.scratch("p", u64::from(b * h) * u64::from(n) * u64::from(n) * 4);
                let o = plan.output("o", s.batch * s.heads * s.seq_len * s.head_dim, OutputType::F32);
                let all = vec![("dims", u), ("q", q), ("k", k), ("v", v), ("p", probs), ("o", o)];
                vec![
                    dispatch("scores", all.clone(), [n.div_ceil(16), n.div_ceil(16), b * h]),
                    dispatch("softmax", all.clone(), [n, b * h, 1]),
                    dispatch("context", all, [d.div_ceil(64), n, b * h]),
                ]
            }
            AttentionVariant::Window => {
                let o = plan.output("o", s.batch * s.heads * s.seq_len * s.head_dim, OutputType::F32);
                vec![dispatch("main", vec![("dims", u), ("q", q), ("k", k), ("v", v), ("o", o)], [n, h, b])]
            }
            AttentionVariant::Flash => {
                let o = plan.output("o", s.batch * s.heads * s.seq_len * s.head_dim, OutputType::F32);
                vec![dispatch(
                    "main",
                    vec![("dims", u), ("q", q), ("k", k), ("v", v), ("o", o)],
                    [n.div_ceil(64), h, b],
                )]
            }
        };
        plan.timed.push(Pass { label: "attention".into(), dispatches });
        plan
    }
}
