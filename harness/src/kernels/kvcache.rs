//! Paged KV-cache decode: a single decode step at a given context, and the streaming scenario
//! (prefill, then decode steps back to back, each its own timed pass so per-token latency shows).

use super::{Inputs, KernelImpl, KvCacheInputs, ParamError, ParamSpec, check};
use crate::catalogue::{DType, Params};
use crate::op::{KvDims, Op};
use crate::plan::{Dispatch, OutputType, Pass, Plan};
use crate::reference;
use crate::rng::InputRng;
use crate::schema::Work;
use crate::shaders::Shader;

/// Tokens per `attend` workgroup; must match CHUNK in kvcache.wgsl.
const CHUNK: usize = 256;
/// kvcache.wgsl keeps the query in a 128-float workgroup array and combines with 128 invocations.
const MAX_HEAD_DIM: u32 = 128;

#[derive(Debug)]
pub struct KvCache {
    /// Streaming scenario (prefill + `steps` decode steps) rather than one decode step.
    pub stream: bool,
}

#[derive(Clone, Copy)]
struct Shape {
    lh: usize,
    d: usize,
    page: usize,
    context: usize,
    steps: usize,
}

impl Shape {
    fn of(p: &Params) -> Shape {
        Shape {
            lh: p.usize("layers") * p.usize("heads"),
            d: p.usize("head_dim"),
            page: p.usize("page_size"),
            context: p.usize("context"),
            steps: p.usize("steps"),
        }
    }
    fn max_pages(&self) -> usize {
        (self.context + self.steps).div_ceil(self.page)
    }
    fn max_chunks(&self) -> usize {
        (self.context + self.steps).div_ceil(CHUNK)
    }
    fn scale(&self) -> f32 {
        1.0 / (self.d as f32).sqrt()
    }
}

const SPEC: &[ParamSpec] = &[
    ParamSpec::new("layers", 1, 1024, "transformer layers, each with its own cache"),
    ParamSpec::new("heads", 1, 1024, "KV heads per layer"),
    ParamSpec::new("head_dim", 1, MAX_HEAD_DIM, "features per head (workgroup query buffer)"),
    ParamSpec::new("page_size", 1, 4096, "tokens per cache page"),
    ParamSpec::new("context", 1, 1 << 20, "tokens already in the cache"),
    ParamSpec::new("steps", 1, 4096, "decode steps (1 for kvcache-decode)"),
];

impl KernelImpl for KvCache {
    fn spec(&self) -> &'static [ParamSpec] {
        SPEC
    }

    fn op(&self, p: &Params) -> Op {
        let dims = KvDims {
            layers: p.usize("layers"),
            heads: p.usize("heads"),
            head_dim: p.usize("head_dim"),
            page_size: p.usize("page_size"),
            context: p.usize("context"),
            steps: p.usize("steps"),
        };
        Op::KvCache { dims, stream: self.stream, dtype: DType::F32 }
    }

    fn validate(&self, p: &Params) -> Result<(), ParamError> {
        if !self.stream {
            check("steps", p.get("steps"), p.get("steps") == 1, "a single decode step has steps = 1")?;
        }
        let s = Shape::of(p);
        check("layers*heads", s.lh as u32, s.lh <= 65535, "at most 65535 (one workgroup row each)")
    }

    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let s = Shape::of(p);
        let mut rng = InputRng::new(seed);
        let pre = s.lh * s.context * s.d;
        let per_step = s.steps * s.lh * s.d;
        let (pre_k, pre_v) = (rng.vec(pre, -1.0, 1.0), rng.vec(pre, -1.0, 1.0));
        let (new_k, new_v, query) =
            (rng.vec(per_step, -1.0, 1.0), rng.vec(per_step, -1.0, 1.0), rng.vec(per_step, -1.0, 1.0));
        // Pages scattered at random through the pool: the indirection is exercised for real.
        let page_table = rng.permutation((s.lh * s.max_pages()) as u32);
        Inputs::KvCache(KvCacheInputs { pre_k, pre_v, new_k, new_v, query, page_table })
    }

    fn reference(&self, p: &Params, i: &Inputs) -> Vec<f32> {
        let s = Shape::of(p);
        let i = i.kv_cache();
        let (pre_k, pre_v, new_k, new_v, q) = (&i.pre_k, &i.pre_v, &i.new_k, &i.new_v, &i.query);
        let mut out = Vec::with_capacity(s.steps * s.lh * s.d);
        for step in 0..s.steps {
            for lh in 0..s.lh {
                let row = |t: usize| (lh * s.context + t) * s.d..(lh * s.context + t + 1) * s.d;
                let new_row = |st: usize| (st * s.lh + lh) * s.d..(st * s.lh + lh + 1) * s.d;
                let mut keys: Vec<&[f32]> = (0..s.context).map(|t| &pre_k[row(t)]).collect();
                let mut values: Vec<&[f32]> = (0..s.context).map(|t| &pre_v[row(t)]).collect();
                for st in 0..=step {
                    keys.push(&new_k[new_row(st)]);
                    values.push(&new_v[new_row(st)]);
                }
                out.extend(reference::attend_one(&q[new_row(step)], &keys, &values, s.scale()));
            }
        }
        out
    }

    fn work(&self, p: &Params) -> Work {
        let s = Shape::of(p);
        let (lh, d) = (s.lh as f64, s.d as f64);
        let mut flops = 0.0;
        let mut bytes = 0.0;
        for step in 0..s.steps {
            let ctx = (s.context + step + 1) as f64;
            flops += 4.0 * lh * ctx * d;
            // K and V of every cached token read once; new K/V, query, output moved once.
            bytes += 2.0 * lh * ctx * d * 4.0 + 4.0 * lh * d * 4.0;
        }
        if self.stream {
            bytes += 4.0 * lh * s.context as f64 * d * 4.0;
        }
        Work { flops, bytes }
    }

    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let s = Shape::of(p);
        let mut plan = Plan::new(shader);
        let dims = |pos: usize, step: usize| {
            [
                ("lh", (s.lh as u32).into()),
                ("head_dim", (s.d as u32).into()),
                ("page_size", (s.page as u32).into()),
                ("max_pages", (s.max_pages() as u32).into()),
                ("pos", (pos as u32).into()),
                ("step", (step as u32).into()),
                ("max_chunks", (s.max_chunks() as u32).into()),
                ("scale", s.scale().into()),
            ]
        };
        let pool_bytes = (s.lh * s.max_pages() * s.page * s.d * 4) as u64;
        let i = i.kv_cache();
        let pt = plan.storage_bytes("page_table", bytemuck::cast_slice(&i.page_table).to_vec());
        let k_pool = plan.scratch("k_pool", pool_bytes);
        let v_pool = plan.scratch("v_pool", pool_bytes);
        let pre_k = plan.storage_f32("pre_k", &i.pre_k);
        let pre_v = plan.storage_f32("pre_v", &i.pre_v);
        let new_k = plan.storage_f32("new_k", &i.new_k);
        let new_v = plan.storage_f32("new_v", &i.new_v);
        let query = plan.storage_f32("query", &i.query);
        let partial = plan.scratch("partial", (s.lh * s.max_chunks() * (s.d + 2) * 4) as u64);
        let out = plan.output("out", s.steps * s.lh * s.d, OutputType::F32);
        let bind = |u: usize| {
            vec![
                ("dims", u),
                ("page_table", pt),
                ("k_pool", k_pool),
                ("v_pool", v_pool),
                ("pre_k", pre_k),
                ("pre_v", pre_v),
                ("new_k", new_k),
                ("new_v", new_v),
                ("query", query),
                ("partial", partial),
                ("out", out),
            ]
        };

        let u_pre = plan.uniform_labelled("dims", "dims-prefill", &dims(s.context, 0));
        let total = (s.lh * s.context * s.d) as u32;
        let prefill = Pass {
            label: "prefill".into(),
            dispatches: vec![Dispatch {
                shader: None,
                entry_point: "prefill",
                bindings: bind(u_pre),
                workgroups: [total.div_ceil(256).clamp(1, 4096), 1, 1],
            }],
        };
        let mut steps = Vec::with_capacity(s.steps);
        for step in 0..s.steps {
            let pos = s.context + step;
            let u = plan.uniform_labelled("dims", &format!("dims-step{step}"), &dims(pos, step));
            steps.push(Pass {
                label: if self.stream { format!("step {step}") } else { "decode".into() },
                dispatches: vec![
                    Dispatch {
                        shader: None,
                        entry_point: "append",
                        bindings: bind(u),
                        workgroups: [((s.lh * s.d) as u32).div_ceil(256), 1, 1],
                    },
                    Dispatch {
                        shader: None,
                        entry_point: "attend",
                        bindings: bind(u),
                        workgroups: [(pos + 1).div_ceil(CHUNK) as u32, s.lh as u32, 1],
                    },
                    Dispatch {
                        shader: None,
                        entry_point: "combine",
                        bindings: bind(u),
                        workgroups: [s.lh as u32, 1, 1],
                    },
                ],
            });
        }
        if self.stream {
            plan.timed.push(prefill);
        } else {
            plan.setup.push(prefill);
        }
        plan.timed.extend(steps);
        plan
    }
}
