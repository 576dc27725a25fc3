//! A graph as one GPU [`Plan`]: every tensor a buffer, every node the calls of its catalogue
//! kernel (the same [`crate::kernels::calls`] its own plan is built from), the prompt one timed
//! pass and each decode step its own (so timestamps give per-token latency). Token ids live on
//! the device: each step's LM head writes the next id where the next step's embedding reads it.
//! The same plan runs natively and in the browser.

use super::graph::{Graph, Node, TensorKind};
use super::values::Values;
use crate::kernels::calls::{self, CacheBuffers, LmHeadAt, MelBuffers};
use crate::op::MatmulDims;
use crate::plan::{BufferId, Call, OutputType, Plan};
use crate::schema::NormKind;
use crate::shaders::by_file;

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

/// The shader of a node: `file`, or in an fp16 graph its `_f16` twin (every node's but the
/// log-mel's and the quantised product's, which fp16 graphs never hold).
fn shader_for(file: &'static str, half: bool) -> &'static crate::shaders::Shader {
    match (half, file.strip_suffix(".wgsl")) {
        (true, Some(stem)) => by_file(&format!("{}_f16.wgsl", stem.trim_end_matches("_f32"))),
        _ => by_file(file),
    }
}

/// The calls of one node, over the graph's buffers `b`.
fn calls(n: &Node, b: &[BufferId], forced: BufferId, half: bool) -> Vec<Call> {
    let by_file = |file| shader_for(file, half);
    match *n {
        Node::LogMel { pcm, window, twiddle, ranges, weights, samples, n_mels, out } => {
            let setup = crate::kernels::MelSetup::new(n_mels, samples);
            let bufs = MelBuffers {
                pcm: b[pcm],
                window: b[window],
                twiddle: b[twiddle],
                ranges: b[ranges],
                weights: b[weights],
                out: b[out],
            };
            vec![calls::logmel(by_file("logmel.wgsl"), &setup, samples, bufs)]
        }
        Node::QuantMatmul { x, w, scales, m, k, n, format, out } => {
            let shader = match format {
                crate::quant::QuantFormat::Q8 => by_file("matmul_q8.wgsl"),
                crate::quant::QuantFormat::Q4 => by_file("matmul_q4.wgsl"),
            };
            vec![calls::quant_matmul(shader, MatmulDims { m, n, k, batch: 1 }, [b[x], b[w], b[scales], b[out]])]
        }
        Node::Conv1d { x, w, b: bias, dims, out } => {
            vec![calls::conv1d(by_file("conv1d.wgsl"), dims, [b[x], b[w], b[bias], b[out]])]
        }
        Node::Embed { table, ids, first, tokens, hidden, out } => {
            vec![calls::embedding(by_file("embedding.wgsl"), tokens, hidden, first, b[table], b[ids], b[out])]
        }
        Node::Norm { kind, x, gamma, beta, rows, cols, out } => {
            let rms = kind == NormKind::RmsNorm;
            vec![calls::norm(by_file("norm.wgsl"), rms, rows, cols, b[x], b[gamma], beta.map(|t| b[t]), b[out])]
        }
        Node::Matmul { x, w, m, k, n, out } => {
            vec![calls::matmul(by_file("matmul_f32.wgsl"), MatmulDims { m, n, k, batch: 1 }, b[x], b[w], b[out])]
        }
        Node::Add { a, b: bias, len, b_len, out } => {
            vec![calls::add(by_file("add.wgsl"), len, b_len, b[a], b[bias], b[out])]
        }
        Node::Gelu { x, len, erf, out } => vec![calls::gelu(by_file("gelu.wgsl"), erf, len, b[x], b[out])],
        Node::SwiGlu { gate, up, len, out } => {
            vec![calls::silu(by_file("silu.wgsl"), len, b[gate], Some(b[up]), b[out])]
        }
        Node::Rope { x, cos, sin, tokens, heads, head_dim, first, out } => {
            vec![calls::rope(by_file("rope.wgsl"), tokens, heads, head_dim, first, [b[x], b[cos], b[sin], b[out]])]
        }
        Node::Attention { q, k, v, page_table, k_cache, v_cache, scores, dims, max_keys, out } => {
            let bufs = CacheBuffers {
                q: b[q],
                k_new: b[k],
                v_new: b[v],
                page_table: b[page_table],
                k_cache: b[k_cache],
                v_cache: b[v_cache],
                scores: b[scores],
                o: b[out],
            };
            calls::cached_attention(by_file("attention_cache.wgsl"), dims, max_keys, bufs)
        }
        Node::LmHead { x, w, row, hidden, vocab, step, slot, logits, ids } => {
            let at = LmHeadAt { row, step, slot };
            calls::lm_head(by_file("lm_head.wgsl"), hidden, vocab, at, [b[x], b[w], b[logits], b[ids], forced])
        }
    }
}

/// The plan of `g` from its initial values, the token buffer holding `forced_tokens` (the
/// reference's, for the checked run). Calls with the same shader and dims share one uniform
/// ([`Plan::dispatch`]): the layers repeat their shapes.
pub fn lower(g: &Graph, init: &[Values], forced_tokens: &[u32]) -> Lowered {
    let mut plan = Plan::new(by_file("embedding.wgsl"));
    let mut buffers = Vec::with_capacity(g.tensors.len());
    for (t, v) in g.tensors.iter().zip(init) {
        let id = match (t.kind, v) {
            (TensorKind::Tokens, _) => plan.storage_bytes(&t.name, bytemuck::cast_slice(forced_tokens).to_vec()),
            (TensorKind::Output, _) => plan.output(&t.name, t.elements(), OutputType::F32),
            (_, Values::F32(v)) => plan.storage_f32(&t.name, v),
            (_, Values::U32(v)) => plan.storage_bytes(&t.name, bytemuck::cast_slice(v).to_vec()),
            (_, Values::Uninit) => plan.scratch(&t.name, 4 * t.elements() as u64),
        };
        buffers.push(id);
    }
    let forced_flag = plan.storage_bytes("forced", 1u32.to_le_bytes().to_vec());
    for (label, nodes) in g.pass_labels().into_iter().zip(g.passes()) {
        let pass_calls = nodes.iter().flat_map(|n| calls(n, &buffers, forced_flag, g.half)).collect();
        let pass = plan.pass(&label, pass_calls);
        plan.timed.push(pass);
    }
    if g.half {
        // The buffers the f16 shaders bind as f16 become f16 (values, scratch and the checked
        // output alike); the logits, scores and RoPE tables stay f32 (`Graph::stays_f32`).
        plan.to_half();
    }
    let tokens = buffers[g.tokens];
    Lowered { plan, forced_flag, tokens, buffers }
}
