//! Embedding lookup: token ids to rows of a (vocab, hidden) table. No arithmetic, all memory:
//! and at published vocabularies the table alone exceeds a software adapter's binding limit,
//! which the requirement check reports.

use super::{EmbeddingInputs, Inputs, KernelImpl, ParamSpec};
use crate::catalogue::{DType, Params};
use crate::op::{EmbeddingDims, Op};
use crate::plan::{BufferId, Call, OutputType, Plan, grid_stride};
use crate::rng::InputRng;
use crate::schema::Work;
use crate::shaders::Shader;

const SPEC: &[ParamSpec] = &[
    ParamSpec::new("tokens", 1, 1 << 20, "token ids looked up"),
    ParamSpec::new("vocab", 1, 1 << 24, "rows of the table"),
    ParamSpec::new("hidden", 1, 1 << 16, "columns of the table (the model's hidden size)"),
];

#[derive(Debug)]
pub struct Embedding;

fn dims(p: &Params) -> EmbeddingDims {
    EmbeddingDims { tokens: p.usize("tokens"), vocab: p.usize("vocab"), hidden: p.usize("hidden") }
}

impl KernelImpl for Embedding {
    fn spec(&self) -> &'static [ParamSpec] {
        SPEC
    }

    fn op(&self, p: &Params) -> Op {
        Op::Embedding { dims: dims(p), dtype: DType::F32 }
    }

    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let d = dims(p);
        let mut rng = InputRng::new(seed);
        let table = rng.vec(d.vocab * d.hidden, -1.0, 1.0);
        let ids = (0..d.tokens).map(|_| rng.below(d.vocab as u32)).collect();
        Inputs::Embedding(EmbeddingInputs { table, ids })
    }

    fn reference(&self, p: &Params, i: &Inputs) -> Vec<f32> {
        let (h, i) = (dims(p).hidden, i.embedding());
        i.ids.iter().flat_map(|&t| i.table[t as usize * h..][..h].iter().copied()).collect()
    }

    fn work(&self, p: &Params) -> Work {
        let d = dims(p);
        work(d.tokens, d.hidden)
    }

    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let (d, i) = (dims(p), i.embedding());
        let mut plan = Plan::new(shader);
        let table = plan.storage_f32("table", &i.table);
        let ids = plan.storage_bytes("ids", bytemuck::cast_slice(&i.ids).to_vec());
        let y = plan.output("y", d.tokens * d.hidden, OutputType::F32);
        let pass = plan.pass("embedding", vec![call(shader, d.tokens, d.hidden, 0, table, ids, y)]);
        plan.timed.push(pass);
        plan
    }
}

/// `y[t] = table[ids[first + t]]` for `tokens` rows of `hidden`, grid-stride.
pub(crate) fn call(
    shader: &'static Shader,
    tokens: usize,
    hidden: usize,
    first: usize,
    table: BufferId,
    ids: BufferId,
    y: BufferId,
) -> Call {
    let u = |v: usize| (v as u32).into();
    Call {
        shader,
        entry_point: "main",
        dims: vec![("tokens", u(tokens)), ("hidden", u(hidden)), ("first", u(first))],
        bindings: vec![("table", table), ("ids", ids), ("y", y)],
        workgroups: grid_stride(tokens * hidden),
    }
}

/// No arithmetic: the ids in, each looked-up row read once and written once.
pub(crate) fn work(tokens: usize, hidden: usize) -> Work {
    Work { flops: 0.0, bytes: 4.0 * tokens as f64 * (1.0 + 2.0 * hidden as f64) }
}
