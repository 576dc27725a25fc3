//! The operations models add to the catalogue, each checked on its own here before models chain
//! them: the broadcast add (residuals, biases), attention over a paged KV cache (grouped-query,
//! causal or bidirectional, a block of queries after cached positions) and the LM head.

use super::{AddInputs, CachedAttentionInputs, Inputs, KernelImpl, LmHeadInputs, ParamError, ParamSpec, check};
use crate::catalogue::{DType, Params};
use crate::op::{CacheDims, Op};
use crate::plan::{BufferId, Call, OutputType, Plan, grid_stride, rows_grid};
use crate::reference;
use crate::rng::InputRng;
use crate::schema::Work;
use crate::shaders::Shader;

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
        Op::Add { len: p.usize("len"), b_len: p.usize("b_len"), dtype: DType::F32 }
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
        add_work(p.usize("len"), p.usize("b_len"))
    }
    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let (len, b_len) = (p.usize("len"), p.usize("b_len"));
        let mut plan = Plan::new(shader);
        let a = plan.storage_f32("a", &i.add().a);
        let b = plan.storage_f32("b", &i.add().b);
        let y = plan.output("y", len, OutputType::F32);
        let pass = plan.pass("add", vec![add_call(shader, len, b_len, a, b, y)]);
        plan.timed.push(pass);
        plan
    }
}

/// `y[i] = a[i] + b[i % b_len]` over `len` elements, grid-stride.
pub(crate) fn add_call(
    shader: &'static Shader,
    len: usize,
    b_len: usize,
    a: BufferId,
    b: BufferId,
    y: BufferId,
) -> Call {
    Call {
        shader,
        entry_point: "main",
        dims: vec![("len", (len as u32).into()), ("b_len", (b_len as u32).into())],
        bindings: vec![("a", a), ("b", b), ("y", y)],
        workgroups: grid_stride(len),
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

fn pages(d: &CacheDims) -> usize {
    d.keys().div_ceil(d.page_size)
}

/// The buffers of attention over a paged cache (attention_cache.wgsl's bindings).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CacheBuffers {
    pub q: BufferId,
    pub k_new: BufferId,
    pub v_new: BufferId,
    pub page_table: BufferId,
    pub k_cache: BufferId,
    pub v_cache: BufferId,
    pub scores: BufferId,
    pub o: BufferId,
}

/// Append the block's K/V to the cache, then scores, softmax and context: four dispatches over
/// one set of dims. `max_keys` is the score scratch's row stride (at least `d.keys()`).
pub(crate) fn cache_calls(shader: &'static Shader, d: CacheDims, max_keys: usize, b: CacheBuffers) -> Vec<Call> {
    let u = |v: usize| (v as u32).into();
    let dims = vec![
        ("tokens", u(d.tokens)),
        ("first", u(d.first)),
        ("heads", u(d.heads)),
        ("kv_heads", u(d.kv_heads)),
        ("head_dim", u(d.head_dim)),
        ("page_size", u(d.page_size)),
        ("causal", u(usize::from(d.causal))),
        ("max_keys", u(max_keys)),
        ("scale", (1.0 / (d.head_dim as f32).sqrt()).into()),
    ];
    let bindings = vec![
        ("q", b.q),
        ("k_new", b.k_new),
        ("v_new", b.v_new),
        ("page_table", b.page_table),
        ("k_cache", b.k_cache),
        ("v_cache", b.v_cache),
        ("p", b.scores),
        ("o", b.o),
    ];
    let (t, h) = (d.tokens as u32, d.heads as u32);
    let call = |entry_point, workgroups| Call {
        shader,
        entry_point,
        dims: dims.clone(),
        bindings: bindings.clone(),
        workgroups,
    };
    vec![
        call("append", grid_stride(d.tokens * d.kv_heads * d.head_dim)),
        call("scores", [(d.keys() as u32).div_ceil(64), t, h]),
        call("softmax", [t, h, 1]),
        call("context", [(d.head_dim as u32).div_ceil(64), t, h]),
    ]
}

impl KernelImpl for CachedAttention {
    fn spec(&self) -> &'static [ParamSpec] {
        CACHE_SPEC
    }
    fn op(&self, p: &Params) -> Op {
        Op::CachedAttention { dims: cache_dims(p), dtype: DType::F32 }
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
            page_table: rng.permutation(pages(&d) as u32),
        })
    }
    fn reference(&self, p: &Params, i: &Inputs) -> Vec<f32> {
        let (d, i) = (cache_dims(p), i.cached_attention());
        let hd = d.head_dim;
        let row = |src: &[f32], t: usize, kvh: usize| -> Vec<f32> { src[(t * d.kv_heads + kvh) * hd..][..hd].to_vec() };
        let mut out = Vec::with_capacity(d.tokens * d.heads * hd);
        for t in 0..d.tokens {
            let keys = d.keys_of(t);
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
        cache_dims(p).work()
    }
    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let (d, i) = (cache_dims(p), i.cached_attention());
        let mut plan = Plan::new(shader);
        let kvd = d.kv_heads * d.head_dim;
        let q = plan.storage_f32("q", &i.q);
        let k = plan.storage_f32("k_new", &i.k);
        let v = plan.storage_f32("v_new", &i.v);
        let pre_k = plan.storage_f32("pre_k", &i.pre_k);
        let pre_v = plan.storage_f32("pre_v", &i.pre_v);
        let table = plan.storage_bytes("page_table", bytemuck::cast_slice(&i.page_table).to_vec());
        let slots = (pages(&d) * d.page_size * kvd * 4) as u64;
        let kc = plan.scratch("k_cache", slots);
        let vc = plan.scratch("v_cache", slots);
        let scores = plan.scratch("p", (d.tokens * d.heads * d.keys() * 4) as u64);
        let o = plan.output("o", d.tokens * d.heads * d.head_dim, OutputType::F32);
        let bufs =
            |k_new, v_new| CacheBuffers { q, k_new, v_new, page_table: table, k_cache: kc, v_cache: vc, scores, o };
        if d.first > 0 {
            // The cached positions, appended once before timing as an earlier pass would have.
            let pre = CacheDims { tokens: d.first, first: 0, ..d };
            let fill = cache_calls(shader, pre, d.keys(), bufs(pre_k, pre_v)).swap_remove(0);
            let pass = plan.pass("prefill cache", vec![fill]);
            plan.setup.push(pass);
        }
        let pass = plan.pass("cached attention", cache_calls(shader, d, d.keys(), bufs(k, v)));
        plan.timed.push(pass);
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
        Op::LmHead { hidden: p.usize("hidden"), vocab: p.usize("vocab"), dtype: DType::F32 }
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
        lm_head_work(p.usize("hidden"), p.usize("vocab"))
    }
    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let (h, v, i) = (p.usize("hidden"), p.usize("vocab"), i.lm_head());
        let mut plan = Plan::new(shader);
        let x = plan.storage_f32("x", &i.x);
        let w = plan.storage_f32("w", &i.w);
        let out = plan.output("logits", v, OutputType::F32);
        let ids = plan.scratch("ids", 4);
        let forced = plan.storage_bytes("forced", 0u32.to_le_bytes().to_vec());
        let at = LmHeadAt { row: 0, step: 0, slot: 0 };
        let pass = plan.pass("lm head", lm_head_calls(shader, h, v, at, [x, w, out, ids, forced]));
        plan.timed.push(pass);
        plan
    }
}

/// Where an LM-head call reads and writes: hidden row `row` in, logits row `step` and id slot
/// `slot` out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LmHeadAt {
    pub row: usize,
    pub step: usize,
    pub slot: usize,
}

/// Logits of one hidden row against the (vocab, hidden) table, then the argmax into `ids`;
/// buffers x, w, logits, ids, forced.
pub(crate) fn lm_head_calls(
    shader: &'static Shader,
    hidden: usize,
    vocab: usize,
    at: LmHeadAt,
    bufs: [BufferId; 5],
) -> Vec<Call> {
    let u = |v: usize| (v as u32).into();
    let [x, w, logits, ids, forced] = bufs;
    let dims = vec![
        ("hidden", u(hidden)),
        ("vocab", u(vocab)),
        ("row", u(at.row)),
        ("step", u(at.step)),
        ("slot", u(at.slot)),
    ];
    let bindings = vec![("x", x), ("w", w), ("logits", logits), ("ids", ids), ("forced", forced)];
    let call = |entry_point, workgroups| Call {
        shader,
        entry_point,
        dims: dims.clone(),
        bindings: bindings.clone(),
        workgroups,
    };
    vec![call("logits_rows", rows_grid(vocab as u32)), call("argmax", [1, 1, 1])]
}

/// One add an element; a and y moved once, b read once.
pub(crate) fn add_work(len: usize, b_len: usize) -> Work {
    let (n, b) = (len as f64, b_len as f64);
    Work { flops: n, bytes: 4.0 * (2.0 * n + b) }
}

/// A dot product per vocabulary row; the table read once, the logits written and read by the
/// argmax.
pub(crate) fn lm_head_work(hidden: usize, vocab: usize) -> Work {
    let (h, v) = (hidden as f64, vocab as f64);
    Work { flops: 2.0 * h * v, bytes: 4.0 * (h * v + h + 2.0 * v) }
}
