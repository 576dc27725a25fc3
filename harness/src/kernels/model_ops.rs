//! The operations models add to the catalogue, each checked on its own here before models chain
//! them: the broadcast add (residuals, biases), attention over a paged KV cache (grouped-query,
//! causal or bidirectional, a block of queries after cached positions) and the LM head.

use super::{AddInputs, CachedAttentionInputs, Inputs, KernelImpl, LmHeadInputs, ParamError, ParamSpec, check};
use crate::catalogue::Params;
use crate::op::{CacheDims, Op};
use crate::plan::{Dispatch, OutputType, Pass, Plan, rows_grid};
use crate::reference;
use crate::rng::InputRng;
use crate::schema::Work;
use crate::shaders::Shader;

fn grid_stride(n: usize) -> [u32; 3] {
    [(n as u32).div_ceil(256).clamp(1, 4096), 1, 1]
}

fn dispatch(entry_point: &'static str, bindings: Vec<(&'static str, usize)>, workgroups: [u32; 3]) -> Dispatch {
    Dispatch { shader: None, entry_point, bindings, workgroups }
}

#[derive(Debug)]
pub struct Add;

const ADD_SPEC: &[ParamSpec] = &[
    ParamSpec::new("len", 1, 1 << 28, "elements of a and y"),
    ParamSpec::new("b_len", 1, 1 << 28, "elements of b, repeated along a; must divide len"),
];

impl KernelImpl for Add {
    fn spec(&self) -> &'static [ParamSpec] {
        ADD_SPEC
    }
    fn op(&self, p: &Params) -> Op {
        Op::Add { len: p.usize("len"), b_len: p.usize("b_len") }
    }
    fn validate(&self, p: &Params) -> Result<(), ParamError> {
        let b = p.get("b_len");
        check("b_len", b, p.get("len").is_multiple_of(b), "must divide len")
    }
    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let mut rng = InputRng::new(seed);
        Inputs::Add(AddInputs { a: rng.vec(p.usize("len"), -1.0, 1.0), b: rng.vec(p.usize("b_len"), -1.0, 1.0) })
    }
    fn reference(&self, _p: &Params, i: &Inputs) -> Vec<f32> {
        let i = i.add();
        i.a.iter().enumerate().map(|(k, &a)| a + i.b[k % i.b.len()]).collect()
    }
    fn work(&self, p: &Params) -> Work {
        let (n, b) = (p.get("len") as f64, p.get("b_len") as f64);
        Work { flops: n, bytes: 4.0 * (2.0 * n + b) }
    }
    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let (len, b_len) = (p.usize("len"), p.usize("b_len"));
        let mut plan = Plan::new(shader);
        let u = plan.uniform("dims", &[("len", (len as u32).into()), ("b_len", (b_len as u32).into())]);
        let a = plan.storage_f32("a", &i.add().a);
        let b = plan.storage_f32("b", &i.add().b);
        let y = plan.output("y", len, OutputType::F32);
        let d = dispatch("main", vec![("dims", u), ("a", a), ("b", b), ("y", y)], grid_stride(len));
        plan.timed.push(Pass { label: "add".into(), dispatches: vec![d] });
        plan
    }
}

#[derive(Debug)]
pub struct CachedAttention;

const CACHE_SPEC: &[ParamSpec] = &[
    ParamSpec::new("tokens", 1, 65535, "queries in the block (1: a decode step)"),
    ParamSpec::new("first", 0, 1 << 20, "positions already in the cache"),
    ParamSpec::new("heads", 1, 1024, "query heads"),
    ParamSpec::new("kv_heads", 1, 1024, "K/V heads; must divide heads (grouped-query when fewer)"),
    ParamSpec::new("head_dim", 1, 1024, "features per head"),
    ParamSpec::new("page_size", 1, 4096, "positions per cache page"),
    ParamSpec::new("causal", 0, 1, "1: query t sees positions up to first + t; 0: all of them"),
];

fn cache_dims(p: &Params) -> CacheDims {
    CacheDims {
        tokens: p.usize("tokens"),
        first: p.usize("first"),
        heads: p.usize("heads"),
        kv_heads: p.usize("kv_heads"),
        head_dim: p.usize("head_dim"),
        page_size: p.usize("page_size"),
        causal: p.get("causal") == 1,
    }
}

impl CacheDims {
    fn keys(&self) -> usize {
        self.first + self.tokens
    }
    fn pages(&self) -> usize {
        self.keys().div_ceil(self.page_size)
    }
}

impl KernelImpl for CachedAttention {
    fn spec(&self) -> &'static [ParamSpec] {
        CACHE_SPEC
    }
    fn op(&self, p: &Params) -> Op {
        Op::CachedAttention(cache_dims(p))
    }
    fn validate(&self, p: &Params) -> Result<(), ParamError> {
        let kv = p.get("kv_heads");
        check("kv_heads", kv, p.get("heads").is_multiple_of(kv), "must divide heads")
    }
    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let d = cache_dims(p);
        let mut rng = InputRng::new(seed);
        let (qn, kvn) = (d.tokens * d.heads * d.head_dim, d.kv_heads * d.head_dim);
        Inputs::CachedAttention(CachedAttentionInputs {
            q: rng.vec(qn, -1.0, 1.0),
            k: rng.vec(d.tokens * kvn, -1.0, 1.0),
            v: rng.vec(d.tokens * kvn, -1.0, 1.0),
            pre_k: rng.vec(d.first * kvn, -1.0, 1.0),
            pre_v: rng.vec(d.first * kvn, -1.0, 1.0),
            page_table: rng.permutation(d.pages() as u32),
        })
    }
    fn reference(&self, p: &Params, i: &Inputs) -> Vec<f32> {
        let (d, i) = (cache_dims(p), i.cached_attention());
        let hd = d.head_dim;
        let row = |src: &[f32], t: usize, kvh: usize| -> Vec<f32> { src[(t * d.kv_heads + kvh) * hd..][..hd].to_vec() };
        let mut out = Vec::with_capacity(d.tokens * d.heads * hd);
        for t in 0..d.tokens {
            let keys = if d.causal { d.first + t + 1 } else { d.keys() };
            for h in 0..d.heads {
                let kvh = h / (d.heads / d.kv_heads);
                // Positions before `first` come from the cache's prefill, the rest from the block.
                let fetch = |src_pre: &[f32], src_new: &[f32], j: usize| {
                    if j < d.first { row(src_pre, j, kvh) } else { row(src_new, j - d.first, kvh) }
                };
                let ks: Vec<Vec<f32>> = (0..keys).map(|j| fetch(&i.pre_k, &i.k, j)).collect();
                let vs: Vec<Vec<f32>> = (0..keys).map(|j| fetch(&i.pre_v, &i.v, j)).collect();
                let kr: Vec<&[f32]> = ks.iter().map(Vec::as_slice).collect();
                let vr: Vec<&[f32]> = vs.iter().map(Vec::as_slice).collect();
                let q = &i.q[(t * d.heads + h) * hd..][..hd];
                out.extend(reference::attend_one(q, &kr, &vr, 1.0 / (hd as f32).sqrt()));
            }
        }
        out
    }
    fn work(&self, p: &Params) -> Work {
        let d = cache_dims(p);
        let f = |v: usize| v as f64;
        let pairs: f64 = (0..d.tokens).map(|t| if d.causal { f(d.first + t + 1) } else { f(d.keys()) }).sum();
        let kv_row = f(d.kv_heads * d.head_dim);
        Work {
            flops: 4.0 * pairs * f(d.heads * d.head_dim),
            bytes: 4.0 * (2.0 * f(d.tokens * d.heads * d.head_dim) + 2.0 * pairs * kv_row + 2.0 * f(d.tokens) * kv_row),
        }
    }
    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let (d, i) = (cache_dims(p), i.cached_attention());
        let mut plan = Plan::new(shader);
        let u32v = |v: usize| (v as u32).into();
        let fields = |tokens: usize, first: usize| {
            [
                ("tokens", u32v(tokens)),
                ("first", u32v(first)),
                ("heads", u32v(d.heads)),
                ("kv_heads", u32v(d.kv_heads)),
                ("head_dim", u32v(d.head_dim)),
                ("page_size", u32v(d.page_size)),
                ("causal", u32v(usize::from(d.causal))),
                ("max_keys", u32v(d.keys())),
                ("scale", (1.0 / (d.head_dim as f32).sqrt()).into()),
            ]
        };
        let pre_u = plan.uniform_labelled("dims", "dims-prefill", &fields(d.first, 0));
        let u = plan.uniform("dims", &fields(d.tokens, d.first));
        let kvd = d.kv_heads * d.head_dim;
        let q = plan.storage_f32("q", &i.q);
        let k = plan.storage_f32("k_new", &i.k);
        let v = plan.storage_f32("v_new", &i.v);
        let pre_k = plan.storage_f32("pre_k", &i.pre_k);
        let pre_v = plan.storage_f32("pre_v", &i.pre_v);
        let table = plan.storage_bytes("page_table", bytemuck::cast_slice(&i.page_table).to_vec());
        let slots = (d.pages() * d.page_size * kvd * 4) as u64;
        let kc = plan.scratch("k_cache", slots);
        let vc = plan.scratch("v_cache", slots);
        let scores = plan.scratch("p", (d.tokens * d.heads * d.keys() * 4) as u64);
        let o = plan.output("o", d.tokens * d.heads * d.head_dim, OutputType::F32);
        let bind = |u, k, v| {
            vec![
                ("dims", u),
                ("q", q),
                ("k_new", k),
                ("v_new", v),
                ("page_table", table),
                ("k_cache", kc),
                ("v_cache", vc),
                ("p", scores),
                ("o", o),
            ]
        };
        if d.first > 0 {
            let fill = dispatch("append", bind(pre_u, pre_k, pre_v), grid_stride(d.first * kvd));
            plan.setup.push(Pass { label: "prefill cache".into(), dispatches: vec![fill] });
        }
        let (t, h) = (d.tokens as u32, d.heads as u32);
        let all = bind(u, k, v);
        plan.timed.push(Pass {
            label: "cached attention".into(),
            dispatches: vec![
                dispatch("append", all.clone(), grid_stride(d.tokens * kvd)),
                dispatch("scores", all.clone(), [(d.keys() as u32).div_ceil(64), t, h]),
                dispatch("softmax", all.clone(), [t, h, 1]),
                dispatch("context", all, [(d.head_dim as u32).div_ceil(64), t, h]),
            ],
        });
        plan
    }
}

#[derive(Debug)]
pub struct LmHead;

const HEAD_SPEC: &[ParamSpec] = &[
    ParamSpec::new("hidden", 1, 1 << 16, "hidden size"),
    ParamSpec::new("vocab", 1, 1 << 24, "vocabulary rows of the table"),
];

impl KernelImpl for LmHead {
    fn spec(&self) -> &'static [ParamSpec] {
        HEAD_SPEC
    }
    fn op(&self, p: &Params) -> Op {
        Op::LmHead { hidden: p.usize("hidden"), vocab: p.usize("vocab") }
    }
    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let mut rng = InputRng::new(seed);
        let (h, v) = (p.usize("hidden"), p.usize("vocab"));
        Inputs::LmHead(LmHeadInputs { x: rng.vec(h, -1.0, 1.0), w: rng.vec(v * h, -1.0, 1.0) })
    }
    /// The logits row (the argmax the kernel also runs is checked by every model run, whose
    /// device-chosen tokens are compared with the reference's).
    fn reference(&self, p: &Params, i: &Inputs) -> Vec<f32> {
        let (h, i) = (p.usize("hidden"), i.lm_head());
        let logits: Vec<f64> =
            i.w.chunks(h).map(|row| row.iter().zip(&i.x).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum()).collect();
        logits.iter().map(|&v| v as f32).collect()
    }
    fn work(&self, p: &Params) -> Work {
        let (h, v) = (p.get("hidden") as f64, p.get("vocab") as f64);
        Work { flops: 2.0 * h * v, bytes: 4.0 * (h * v + h + 2.0 * v) }
    }
    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let (h, v, i) = (p.usize("hidden"), p.usize("vocab"), i.lm_head());
        let mut plan = Plan::new(shader);
        let z = 0u32.into();
        let u = plan.uniform(
            "dims",
            &[("hidden", (h as u32).into()), ("vocab", (v as u32).into()), ("row", z), ("step", z), ("slot", z)],
        );
        let x = plan.storage_f32("x", &i.x);
        let w = plan.storage_f32("w", &i.w);
        let out = plan.output("logits", v, OutputType::F32);
        let ids = plan.scratch("ids", 4);
        let forced = plan.storage_bytes("forced", 0u32.to_le_bytes().to_vec());
        let bind = vec![("dims", u), ("x", x), ("w", w), ("logits", out), ("ids", ids), ("forced", forced)];
        plan.timed.push(Pass {
            label: "lm head".into(),
            dispatches: vec![
                dispatch("logits_rows", bind.clone(), rows_grid(v as u32)),
                dispatch("argmax", bind, [1, 1, 1]),
            ],
        });
        plan
    }
}
