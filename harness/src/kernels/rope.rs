//! Rotary position embedding (RoPE) on a (tokens, heads, head_dim) tensor: how LLaMA-family
//! decoders put positions into Q and K. The cos/sin table comes with the inputs (host f64), as
//! serving engines cache it.

use super::{Inputs, KernelImpl, ParamError, ParamSpec, RopeInputs, check};
use crate::catalogue::{DType, Params};
use crate::op::{Op, RopeDims};
use crate::plan::{BufferId, Call, OutputType, Plan, grid_stride};
use crate::reference;
use crate::rng::InputRng;
use crate::schema::Work;
use crate::shaders::Shader;

const SPEC: &[ParamSpec] = &[
    ParamSpec::new("tokens", 1, 1 << 20, "positions rotated (a prompt, or 1 for a decode step)"),
    ParamSpec::new("heads", 1, 1024, "attention heads (query or key heads)"),
    ParamSpec::new("head_dim", 2, 1024, "features per head, even (rotated in pairs)"),
    ParamSpec::new("theta", 1, 1_000_000_000, "the frequency base (10000 LLaMA 2, 500000 Llama 3, 1000000 Qwen2)"),
    ParamSpec::new("offset", 0, 1 << 24, "position of the first token (a decode step's place in the context)"),
];

#[derive(Debug)]
pub struct Rope;

fn dims(p: &Params) -> RopeDims {
    RopeDims {
        tokens: p.usize("tokens"),
        heads: p.usize("heads"),
        head_dim: p.usize("head_dim"),
        theta: p.get("theta"),
        offset: p.usize("offset"),
    }
}

impl KernelImpl for Rope {
    fn spec(&self) -> &'static [ParamSpec] {
        SPEC
    }

    fn op(&self, p: &Params) -> Op {
        Op::Rope { dims: dims(p), dtype: DType::F32 }
    }

    fn validate(&self, p: &Params) -> Result<(), ParamError> {
        let hd = p.get("head_dim");
        check("head_dim", hd, hd.is_multiple_of(2), "must be even (features rotate in pairs)")
    }

    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let d = dims(p);
        let mut rng = InputRng::new(seed);
        let x = rng.vec(d.tokens * d.heads * d.head_dim, -1.0, 1.0);
        let (cos, sin) = reference::rope_table(d.tokens, d.head_dim, f64::from(d.theta), d.offset);
        Inputs::Rope(RopeInputs { x, cos, sin })
    }

    fn reference(&self, p: &Params, i: &Inputs) -> Vec<f32> {
        let (d, i) = (dims(p), i.rope());
        reference::rope(&i.x, &i.cos, &i.sin, d.heads, d.head_dim)
    }

    fn work(&self, p: &Params) -> Work {
        let d = dims(p);
        work(d.tokens, d.heads, d.head_dim)
    }

    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let (d, i) = (dims(p), i.rope());
        let mut plan = Plan::new(shader);
        let x = plan.storage_f32("x", &i.x);
        let c = plan.storage_f32("cos_t", &i.cos);
        let s = plan.storage_f32("sin_t", &i.sin);
        let y = plan.output("y", i.x.len(), OutputType::F32);
        // The table holds exactly these tokens' positions: row 0 is the first token's.
        let pass = plan.pass("rope", vec![call(shader, d.tokens, d.heads, d.head_dim, 0, [x, c, s, y])]);
        plan.timed.push(pass);
        plan
    }
}

/// RoPE of `tokens` rows of `heads` heads with table rows `first..`; buffers x, cos, sin, y.
pub(crate) fn call(
    shader: &'static Shader,
    tokens: usize,
    heads: usize,
    head_dim: usize,
    first: usize,
    [x, cos, sin, y]: [BufferId; 4],
) -> Call {
    let u = |v: usize| (v as u32).into();
    let half = head_dim / 2;
    Call {
        shader,
        entry_point: "main",
        dims: vec![("tokens", u(tokens)), ("heads", u(heads)), ("half", u(half)), ("first", u(first))],
        bindings: vec![("x", x), ("cos_t", cos), ("sin_t", sin), ("y", y)],
        workgroups: grid_stride(tokens * heads * half),
    }
}

/// Per pair: 4 multiplies and 2 adds; x in, y out, the table read once per token.
pub(crate) fn work(tokens: usize, heads: usize, head_dim: usize) -> Work {
    let n = (tokens * heads * head_dim) as f64;
    Work { flops: 3.0 * n, bytes: 8.0 * n + 4.0 * (tokens * head_dim) as f64 }
}
