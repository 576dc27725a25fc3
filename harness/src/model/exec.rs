//! Executing a graph on the host: one driver that walks the nodes over a tensor store, and the
//! per-node arithmetic behind the [`HostOps`] trait, so the f64 reference and native-cpu's fast
//! f32 code run the same graph the same way and differ only in how each operation computes.

use super::graph::{Graph, Node, TensorId};
use super::values::Values;
use crate::op::{CacheDims, Conv1dDims};
use crate::schema::NormKind;

/// The norms' epsilon: the catalogue kernels', so a model's norms are the kernels' norms.
pub use crate::kernels::NORM_EPS;

/// Element arithmetic of one host executor. Inputs and outputs are distinct tensors; `out` is
/// the output tensor's full storage, written from the start.
pub trait HostOps {
    type T: Copy + Default + Send + Sync;
    fn from_f32(v: f32) -> Self::T;
    fn to_f32(v: Self::T) -> f32;
    /// `v` rounded to the nearest f16, as an fp16 graph's device stores each output.
    fn round_half(v: Self::T) -> Self::T;
    fn matmul(&self, x: &[Self::T], w: &[Self::T], m: usize, k: usize, n: usize, out: &mut [Self::T]);
    #[allow(clippy::too_many_arguments)]
    fn norm(
        &self,
        kind: NormKind,
        x: &[Self::T],
        gamma: &[Self::T],
        beta: Option<&[Self::T]>,
        rows: usize,
        cols: usize,
        out: &mut [Self::T],
    );
    fn add(&self, a: &[Self::T], b: &[Self::T], b_len: usize, out: &mut [Self::T]);
    fn gelu(&self, x: &[Self::T], erf: bool, out: &mut [Self::T]);
    fn swiglu(&self, gate: &[Self::T], up: &[Self::T], out: &mut [Self::T]);
    /// Rotate-half RoPE over rows of `heads * head_dim` with table rows `first..`.
    #[allow(clippy::too_many_arguments)]
    fn rope(
        &self,
        x: &[Self::T],
        cos: &[Self::T],
        sin: &[Self::T],
        heads: usize,
        head_dim: usize,
        first: usize,
        out: &mut [Self::T],
    );
    /// Attention of the block's queries over the cache, given each position's slot; the
    /// block's K and V rows are already in the cache.
    fn attend(
        &self,
        q: &[Self::T],
        k_cache: &[Self::T],
        v_cache: &[Self::T],
        slots: &[usize],
        d: CacheDims,
        out: &mut [Self::T],
    );
    /// Logits of `x` against the rows of `w`.
    fn logits(&self, x: &[Self::T], w: &[Self::T], out: &mut [Self::T]);
    /// `out = x W` for `m` rows of `x`, W (k, n) given as the block-quantised rows of W^T.
    fn quant_matmul(&self, x: &[Self::T], w: &crate::quant::Quantized, m: usize, out: &mut [Self::T]);
    /// Whisper's log-mel of `pcm` into `(n_mels, pcm.len() / hop)`.
    fn logmel(&self, pcm: &[Self::T], n_mels: usize, out: &mut [Self::T]);
    /// 1-D convolution with bias in `d`'s layouts.
    fn conv1d(&self, x: &[Self::T], w: &[Self::T], b: &[Self::T], d: Conv1dDims, out: &mut [Self::T]);
}

/// Every tensor of a graph on the host.
#[derive(Debug)]
pub struct Store<T> {
    pub f: Vec<Vec<T>>,
    pub ids: Vec<Vec<u32>>,
    /// The graph is fp16: [`run`] rounds every node's f16 output.
    pub half: bool,
}

impl<T: Copy + Default> Store<T> {
    pub fn new(g: &Graph, init: &[Values], conv: impl Fn(f32) -> T) -> Self {
        let mut f = Vec::with_capacity(g.tensors.len());
        let mut ids = Vec::with_capacity(g.tensors.len());
        for (t, v) in g.tensors.iter().zip(init) {
            match v {
                Values::F32(v) => {
                    f.push(v.iter().map(|&x| conv(x)).collect());
                    ids.push(Vec::new());
                }
                Values::U32(v) => {
                    f.push(Vec::new());
                    ids.push(v.clone());
                }
                Values::Uninit if t.ids => {
                    f.push(Vec::new());
                    ids.push(vec![0; t.elements()]);
                }
                Values::Uninit => {
                    f.push(vec![T::default(); t.elements()]);
                    ids.push(Vec::new());
                }
            }
        }
        Store { f, ids, half: g.half }
    }

    /// Runs `f` with the output tensor taken out of the store, so inputs can be borrowed beside it.
    fn with_out(&mut self, out: TensorId, f: impl FnOnce(&Self, &mut [T])) {
        let mut o = std::mem::take(&mut self.f[out]);
        f(self, &mut o);
        self.f[out] = o;
    }
}

/// Runs `nodes` in order. `forced`: the argmax writes nothing and the tokens already in the
/// store are used (a check replays the reference's tokens).
pub fn run<O: HostOps>(ops: &O, store: &mut Store<O::T>, nodes: &[Node], forced: bool) {
    for node in nodes {
        run_node(ops, store, node, forced);
        if let Some(out) = half_output(node).filter(|_| store.half) {
            store.f[out].iter_mut().for_each(|v| *v = O::round_half(*v));
        }
    }
}

/// The output an fp16 graph stores as f16: every node's but the LM head's f32 logits (the
/// log-mel, f32 too, is never in an fp16 graph).
fn half_output(node: &Node) -> Option<TensorId> {
    match *node {
        Node::Embed { out, .. }
        | Node::Norm { out, .. }
        | Node::Matmul { out, .. }
        | Node::Add { out, .. }
        | Node::Gelu { out, .. }
        | Node::SwiGlu { out, .. }
        | Node::Rope { out, .. }
        | Node::Attention { out, .. }
        | Node::QuantMatmul { out, .. }
        | Node::Conv1d { out, .. } => Some(out),
        Node::LogMel { .. } | Node::LmHead { .. } => None,
    }
}

fn run_node<O: HostOps>(ops: &O, store: &mut Store<O::T>, node: &Node, forced: bool) {
    match *node {
        Node::Embed { table, ids, first, tokens, hidden, out } => {
            let rows: Vec<usize> = store.ids[ids][first..first + tokens].iter().map(|&i| i as usize).collect();
            store.with_out(out, |s, o| {
                for (t, r) in rows.iter().enumerate() {
                    o[t * hidden..][..hidden].copy_from_slice(&s.f[table][r * hidden..][..hidden]);
                }
            });
        }
        Node::Norm { kind, x, gamma, beta, rows, cols, out } => store.with_out(out, |s, o| {
            let beta = beta.map(|b| s.f[b].as_slice());
            ops.norm(kind, &s.f[x][..rows * cols], &s.f[gamma], beta, rows, cols, &mut o[..rows * cols]);
        }),
        Node::Matmul { x, w, m, k, n, out } => {
            store.with_out(out, |s, o| ops.matmul(&s.f[x][..m * k], &s.f[w], m, k, n, &mut o[..m * n]))
        }
        Node::Add { a, b, len, b_len, out } => {
            store.with_out(out, |s, o| ops.add(&s.f[a][..len], &s.f[b][..b_len], b_len, &mut o[..len]))
        }
        Node::Gelu { x, len, erf, out } => store.with_out(out, |s, o| ops.gelu(&s.f[x][..len], erf, &mut o[..len])),
        Node::SwiGlu { gate, up, len, out } => {
            store.with_out(out, |s, o| ops.swiglu(&s.f[gate][..len], &s.f[up][..len], &mut o[..len]))
        }
        Node::Rope { x, cos, sin, tokens, heads, head_dim, first, out } => {
            let len = tokens * heads * head_dim;
            store.with_out(out, |s, o| {
                ops.rope(&s.f[x][..len], &s.f[cos], &s.f[sin], heads, head_dim, first, &mut o[..len])
            })
        }
        Node::Attention { q, k, v, page_table, k_cache, v_cache, dims: d, out, .. } => {
            let pt = &store.ids[page_table];
            let slot = |t: usize| pt[t / d.page_size] as usize * d.page_size + t % d.page_size;
            let slots: Vec<usize> = (0..d.keys()).map(slot).collect();
            let row = d.kv_heads * d.head_dim;
            for t in 0..d.tokens {
                let at = slots[d.first + t] * row;
                let (kn, vn) = (store.f[k][t * row..][..row].to_vec(), store.f[v][t * row..][..row].to_vec());
                store.f[k_cache][at..at + row].copy_from_slice(&kn);
                store.f[v_cache][at..at + row].copy_from_slice(&vn);
            }
            let len = d.tokens * d.heads * d.head_dim;
            store.with_out(out, |s, o| {
                ops.attend(&s.f[q][..len], &s.f[k_cache], &s.f[v_cache], &slots, d, &mut o[..len])
            });
        }
        Node::QuantMatmul { x, w, scales, m, k, n, format, out } => {
            let q = crate::quant::Quantized::from_packed(format, n, k, &store.ids[w], &store.ids[scales]);
            store.with_out(out, |s, o| ops.quant_matmul(&s.f[x][..m * k], &q, m, &mut o[..m * n]))
        }
        Node::LogMel { pcm, out, n_mels, .. } => store.with_out(out, |s, o| ops.logmel(&s.f[pcm], n_mels, o)),
        Node::Conv1d { x, w, b, dims, out } => {
            store.with_out(out, |s, o| ops.conv1d(&s.f[x], &s.f[w], &s.f[b], dims, o))
        }
        Node::LmHead { x, w, row, hidden, vocab, step, slot, logits, ids } => {
            store.with_out(logits, |s, o| {
                ops.logits(&s.f[x][row * hidden..][..hidden], &s.f[w], &mut o[step * vocab..][..vocab])
            });
            if !forced {
                let l = &store.f[logits][step * vocab..][..vocab];
                store.ids[ids][slot] = argmax(l.iter().map(|&v| O::to_f32(v)));
            }
        }
    }
}

/// The graph's checked output in `store`, as f32.
pub fn output<O: HostOps>(store: &Store<O::T>, g: &Graph) -> Vec<f32> {
    store.f[g.output].iter().map(|&v| O::to_f32(v)).collect()
}

/// Index of the first largest value, as `lm_head.wgsl`'s argmax breaks ties.
pub fn argmax(values: impl Iterator<Item = f32>) -> u32 {
    let mut best = (f32::NEG_INFINITY, 0u32);
    for (i, v) in values.enumerate() {
        if v > best.0 {
            best = (v, i as u32);
        }
    }
    best.1
}

/// What a host run of a whole graph produced.
#[derive(Debug, Clone)]
pub struct GraphRun {
    /// The checked output ([`Graph::output`]) as f32.
    pub output: Vec<f32>,
    /// Every token id after the run: the prompt, then the generated ones.
    pub tokens: Vec<u32>,
}

/// The prompt, then every decode step. With `forced` tokens, those are fed instead of the
/// executor's own argmax (they must extend the prompt by `generate` generated tokens).
pub fn run_graph<O: HostOps>(ops: &O, g: &Graph, init: &[Values], forced: Option<&[u32]>) -> GraphRun {
    let mut store = Store::new(g, init, O::from_f32);
    if let Some(tokens) = forced {
        store.ids[g.tokens].copy_from_slice(tokens);
    }
    for nodes in g.passes() {
        run(ops, &mut store, nodes, forced.is_some());
    }
    GraphRun { output: output::<O>(&store, g), tokens: std::mem::take(&mut store.ids[g.tokens]) }
}
