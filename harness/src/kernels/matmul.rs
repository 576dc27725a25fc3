//! Batched GEMM (fp32; its fp16 variant is [`super::Half`] of it on `matmul_f16.wgsl`).

use super::{Inputs, KernelImpl, MatmulInputs, ParamSpec};
use crate::catalogue::{DType, Params};
use crate::op::{MatmulDims, Op};
use crate::plan::{BufferId, Call, OutputType, Plan};
use crate::reference;
use crate::rng::InputRng;
use crate::schema::Work;
use crate::shaders::Shader;

#[derive(Debug)]
pub struct Matmul;

fn dims(p: &Params) -> MatmulDims {
    MatmulDims { m: p.usize("m"), n: p.usize("n"), k: p.usize("k"), batch: p.usize("batch") }
}

const SPEC: &[ParamSpec] = &[
    ParamSpec::new("m", 1, 1 << 20, "rows of A and C"),
    ParamSpec::new("n", 1, 1 << 20, "columns of B and C"),
    ParamSpec::new("k", 1, 1 << 20, "columns of A, rows of B"),
    ParamSpec::new("batch", 1, 65535, "independent products, one workgroup layer each"),
];

impl KernelImpl for Matmul {
    fn spec(&self) -> &'static [ParamSpec] {
        SPEC
    }

    fn op(&self, p: &Params) -> Op {
        Op::Matmul { dims: dims(p), dtype: DType::F32 }
    }

    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let d = dims(p);
        let mut rng = InputRng::new(seed);
        let a = rng.vec(d.batch * d.m * d.k, -1.0, 1.0);
        let b = rng.vec(d.batch * d.k * d.n, -1.0, 1.0);
        Inputs::Matmul(MatmulInputs { a, b })
    }

    fn reference(&self, p: &Params, inputs: &Inputs) -> Vec<f32> {
        let d = dims(p);
        reference::matmul(&inputs.matmul().a, &inputs.matmul().b, d.m, d.n, d.k, d.batch)
    }

    fn work(&self, p: &Params) -> Work {
        work(dims(p), 4.0)
    }

    fn plan(&self, shader: &'static Shader, p: &Params, inputs: &Inputs) -> Plan {
        let d = dims(p);
        let mut plan = Plan::new(shader);
        let a = plan.storage_f32("a", &inputs.matmul().a);
        let b = plan.storage_f32("b", &inputs.matmul().b);
        let c = plan.output("c", d.batch * d.m * d.n, OutputType::F32);
        let pass = plan.pass("matmul", vec![call(shader, d, a, b, c)]);
        plan.timed.push(pass);
        plan
    }
}

/// `c = a b` on the tiled GEMM: 64 x 64 output tiles per workgroup, batches along z.
pub(crate) fn call(shader: &'static Shader, d: MatmulDims, a: BufferId, b: BufferId, c: BufferId) -> Call {
    let u = |v: usize| (v as u32).into();
    Call {
        shader,
        entry_point: "main",
        dims: vec![("m", u(d.m)), ("n", u(d.n)), ("k", u(d.k)), ("batch", u(d.batch))],
        bindings: vec![("a", a), ("b", b), ("c", c)],
        workgroups: [d.n.div_ceil(64) as u32, d.m.div_ceil(64) as u32, d.batch as u32],
    }
}

/// 2 m n k flops per batch; A, B and C each moved once, `elem` bytes an element.
pub(crate) fn work(d: MatmulDims, elem: f64) -> Work {
    let (m, n, k, b) = (d.m as f64, d.n as f64, d.k as f64, d.batch as f64);
    Work { flops: 2.0 * m * n * k * b, bytes: (m * k + k * n + m * n) * b * elem }
}
