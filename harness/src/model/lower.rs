//! A graph as one GPU [`Plan`]: every tensor a buffer, every node the dispatches of its
//! catalogue shader, the prompt one timed pass and each decode step its own (so timestamps give
//! per-token latency). Token ids live on the device: each step's LM head writes the next id
//! where the next step's embedding reads it. The same plan runs natively and in the browser.

use std::collections::HashMap;

use super::exec::NORM_EPS;
use super::graph::{Graph, Node, TensorKind};
use super::values::Values;
use crate::plan::{BufferId, Dispatch, OutputType, Pass, Plan, UniformValue, rows_grid};
use crate::schema::NormKind;
use crate::shaders::{self, Shader};

/// A lowered graph: the plan and the buffers a runner touches between runs.
#[derive(Debug)]
pub struct Lowered {
    pub plan: Plan,
    /// One u32: 1 while the checked run replays the reference's tokens, then 0 (the device's own
    /// argmax feeds each step).
    pub forced_flag: BufferId,
    /// The token ids: the prompt, then every generated token.
    pub tokens: BufferId,
    /// Buffer of each graph tensor.
    pub buffers: Vec<BufferId>,
}

fn grid_stride(n: usize) -> [u32; 3] {
    [(n as u32).div_ceil(256).clamp(1, 4096), 1, 1]
}

struct Lowering {
    plan: Plan,
    buffers: Vec<BufferId>,
    /// Identical uniforms (same shader, same values) share a buffer: layers repeat their shapes.
    uniforms: HashMap<String, BufferId>,
}

impl Lowering {
    fn uniform(&mut self, shader: &'static Shader, fields: &[(&'static str, UniformValue)]) -> BufferId {
        let key = format!("{}:{fields:?}", shader.file);
        if let Some(&id) = self.uniforms.get(&key) {
            return id;
        }
        let label = format!("{}.dims", shader.file.trim_end_matches(".wgsl"));
        let id = self.plan.uniform_in(shader, "dims", &label, fields);
        self.uniforms.insert(key, id);
        id
    }

    fn dispatch(
        &mut self,
        out: &mut Vec<Dispatch>,
        shader: &'static Shader,
        entry_point: &'static str,
        bindings: Vec<(&'static str, BufferId)>,
        workgroups: [u32; 3],
    ) {
        out.push(Dispatch { shader: Some(shader), entry_point, bindings, workgroups });
    }

    fn node(&mut self, n: &Node, forced: BufferId, out: &mut Vec<Dispatch>) {
        let bufs = self.buffers.clone();
        let b = |t: usize| bufs[t];
        let u = |v: usize| UniformValue::U32(v as u32);
        match *n {
            Node::Embed { table, ids, first, tokens, hidden, out: y } => {
                let s = shaders::by_file("embedding.wgsl");
                let dims = self.uniform(s, &[("tokens", u(tokens)), ("hidden", u(hidden)), ("first", u(first))]);
                let bind = vec![("dims", dims), ("table", b(table)), ("ids", b(ids)), ("y", b(y))];
                self.dispatch(out, s, "main", bind, grid_stride(tokens * hidden));
            }
            Node::Norm { kind, x, gamma, beta, rows, cols, out: y } => {
                let s = shaders::by_file("norm.wgsl");
                let dims = self.uniform(s, &[("rows", u(rows)), ("cols", u(cols)), ("eps", (NORM_EPS as f32).into())]);
                let mut bind = vec![("dims", dims), ("x", b(x)), ("gamma", b(gamma)), ("y", b(y))];
                let entry = match kind {
                    NormKind::LayerNorm => {
                        bind.push(("beta", b(beta.expect("LayerNorm has a shift"))));
                        "layernorm"
                    }
                    NormKind::RmsNorm => "rmsnorm",
                };
                self.dispatch(out, s, entry, bind, rows_grid(rows as u32));
            }
            Node::Matmul { x, w, m, k, n, out: y } => {
                let s = shaders::by_file("matmul_f32.wgsl");
                let dims = self.uniform(s, &[("m", u(m)), ("n", u(n)), ("k", u(k)), ("batch", u(1))]);
                let wg = [n.div_ceil(64) as u32, m.div_ceil(64) as u32, 1];
                self.dispatch(out, s, "main", vec![("dims", dims), ("a", b(x)), ("b", b(w)), ("c", b(y))], wg);
            }
            Node::Add { a, b: bias, len, b_len, out: y } => {
                let s = shaders::by_file("add.wgsl");
                let dims = self.uniform(s, &[("len", u(len)), ("b_len", u(b_len))]);
                let bind = vec![("dims", dims), ("a", b(a)), ("b", b(bias)), ("y", b(y))];
                self.dispatch(out, s, "main", bind, grid_stride(len));
            }
            Node::Gelu { x, len, erf, out: y } => {
                let s = shaders::by_file("gelu.wgsl");
                let dims = self.uniform(s, &[("len4", u(len.div_ceil(4)))]);
                let entry = if erf { "gelu_erf" } else { "gelu_tanh" };
                self.dispatch(out, s, entry, vec![("dims", dims), ("x", b(x)), ("y", b(y))], grid_stride(len / 4));
            }
            Node::SwiGlu { gate, up, len, out: y } => {
                let s = shaders::by_file("silu.wgsl");
                let dims = self.uniform(s, &[("len4", u(len.div_ceil(4)))]);
                let bind = vec![("dims", dims), ("x", b(gate)), ("up", b(up)), ("y", b(y))];
                self.dispatch(out, s, "swiglu", bind, grid_stride(len / 4));
            }
            Node::Rope { x, cos, sin, tokens, heads, head_dim, first, out: y } => {
                let s = shaders::by_file("rope.wgsl");
                let half = head_dim / 2;
                let dims = self
                    .uniform(s, &[("tokens", u(tokens)), ("heads", u(heads)), ("half", u(half)), ("first", u(first))]);
                let bind = vec![("dims", dims), ("x", b(x)), ("cos_t", b(cos)), ("sin_t", b(sin)), ("y", b(y))];
                self.dispatch(out, s, "main", bind, grid_stride(tokens * heads * half));
            }
            Node::Attention { q, k, v, page_table, k_cache, v_cache, scores, shape: c, tokens, first, out: o } => {
                let s = shaders::by_file("attention_cache.wgsl");
                let dims = self.uniform(
                    s,
                    &[
                        ("tokens", u(tokens)),
                        ("first", u(first)),
                        ("heads", u(c.heads)),
                        ("kv_heads", u(c.kv_heads)),
                        ("head_dim", u(c.head_dim)),
                        ("page_size", u(c.page_size)),
                        ("causal", u(usize::from(c.causal))),
                        ("max_keys", u(c.max_keys)),
                        ("scale", (1.0 / (c.head_dim as f32).sqrt()).into()),
                    ],
                );
                let bind = vec![
                    ("dims", dims),
                    ("q", b(q)),
                    ("k_new", b(k)),
                    ("v_new", b(v)),
                    ("page_table", b(page_table)),
                    ("k_cache", b(k_cache)),
                    ("v_cache", b(v_cache)),
                    ("p", b(scores)),
                    ("o", b(o)),
                ];
                let (t, h, keys) = (tokens as u32, c.heads as u32, (first + tokens) as u32);
                self.dispatch(out, s, "append", bind.clone(), grid_stride(tokens * c.kv_heads * c.head_dim));
                self.dispatch(out, s, "scores", bind.clone(), [keys.div_ceil(64), t, h]);
                self.dispatch(out, s, "softmax", bind.clone(), [t, h, 1]);
                self.dispatch(out, s, "context", bind, [(c.head_dim as u32).div_ceil(64), t, h]);
            }
            Node::LmHead { x, w, row, hidden, vocab, step, slot, logits, ids } => {
                let s = shaders::by_file("lm_head.wgsl");
                let dims = self.uniform(
                    s,
                    &[
                        ("hidden", u(hidden)),
                        ("vocab", u(vocab)),
                        ("row", u(row)),
                        ("step", u(step)),
                        ("slot", u(slot)),
                    ],
                );
                let bind = vec![
                    ("dims", dims),
                    ("x", b(x)),
                    ("w", b(w)),
                    ("logits", b(logits)),
                    ("ids", b(ids)),
                    ("forced", forced),
                ];
                self.dispatch(out, s, "logits_rows", bind.clone(), rows_grid(vocab as u32));
                self.dispatch(out, s, "argmax", bind, [1, 1, 1]);
            }
        }
    }
}

/// The plan of `g` from its initial values, the token buffer holding `forced_tokens` (the
/// reference's, for the checked run).
pub fn lower(g: &Graph, init: &[Values], forced_tokens: &[u32]) -> Lowered {
    let mut plan = Plan::new(shaders::by_file("embedding.wgsl"));
    let mut buffers = Vec::with_capacity(g.tensors.len());
    for (t, v) in g.tensors.iter().zip(init) {
        let bytes = 4 * t.elements() as u64;
        let id = match (t.kind, v) {
            (TensorKind::Tokens, _) => plan.storage_bytes(&t.name, bytemuck::cast_slice(forced_tokens).to_vec()),
            (TensorKind::Output, _) => plan.output(&t.name, g.output_len, OutputType::F32),
            (_, Values::F32(v)) => plan.storage_f32(&t.name, v),
            (_, Values::U32(v)) => plan.storage_bytes(&t.name, bytemuck::cast_slice(v).to_vec()),
            (_, Values::Uninit) => plan.scratch(&t.name, bytes),
        };
        buffers.push(id);
    }
    let forced_flag = plan.storage_bytes("forced", 1u32.to_le_bytes().to_vec());
    let mut l = Lowering { plan, buffers, uniforms: HashMap::new() };
    let mut passes = Vec::with_capacity(1 + g.steps.len());
    let first = if g.steps.is_empty() { "encode" } else { "prefill" };
    for (label, nodes) in std::iter::once((first.to_owned(), &g.prefill))
        .chain(g.steps.iter().enumerate().map(|(i, s)| (format!("decode {}", i + 1), s)))
    {
        let mut dispatches = Vec::new();
        for n in nodes {
            l.node(n, forced_flag, &mut dispatches);
        }
        passes.push(Pass { label, dispatches });
    }
    l.plan.timed = passes;
    let tokens = l.buffers[g.tokens];
    Lowered { plan: l.plan, forced_flag, tokens, buffers: l.buffers }
}
