//! The practical peaks every record's fraction of peak divides by: a copy that moves each byte
//! once (bandwidth) and chains of FMAs per dtype (arithmetic), measured like any kernel, on
//! the same adapter, in the same run.

use super::{Inputs, KernelImpl, ParamError, ParamSpec, UnaryInputs, check};
use crate::catalogue::{DType, Params};
use crate::op::{Op, PeakOp};
use crate::plan::{OutputType, Plan, grid_stride};
use crate::rng::InputRng;
use crate::schema::Work;
use crate::shaders::Shader;

/// The FMA chains' multiplier: with c = x (1 - m) each chain converges to x, at 2^-iters.
pub const FMA_M: f32 = 0.5;
/// Independent lanes per invocation (four vec4 accumulators).
pub const FMA_LANES: usize = 16;

#[derive(Debug)]
pub struct PeakCopy;

const COPY_SPEC: &[ParamSpec] = &[ParamSpec::new("len", 4, 1 << 28, "f32 elements copied; a multiple of 4")];

impl KernelImpl for PeakCopy {
    fn spec(&self) -> &'static [ParamSpec] {
        COPY_SPEC
    }
    fn op(&self, p: &Params) -> Op {
        Op::Peak(PeakOp::Copy { len: p.usize("len") })
    }
    fn validate(&self, p: &Params) -> Result<(), ParamError> {
        let len = p.get("len");
        check("len", len, len.is_multiple_of(4), "must be a multiple of 4 (the copy moves vec4s)")
    }
    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        Inputs::Unary(UnaryInputs { x: InputRng::new(seed).vec(p.usize("len"), -1.0, 1.0) })
    }
    fn reference(&self, _p: &Params, inputs: &Inputs) -> Vec<f32> {
        inputs.unary().x.clone()
    }
    fn work(&self, p: &Params) -> Work {
        Work { flops: 0.0, bytes: 8.0 * p.usize("len") as f64 }
    }
    fn plan(&self, shader: &'static Shader, p: &Params, inputs: &Inputs) -> Plan {
        let len = p.usize("len");
        let mut plan = Plan::new(shader);
        let x = plan.storage_f32("x", &inputs.unary().x);
        let y = plan.output("y", len, OutputType::F32);
        let call = crate::plan::Call {
            shader,
            entry_point: "main",
            dims: vec![("len4", ((len / 4) as u32).into())],
            bindings: vec![("x", x), ("y", y)],
            workgroups: grid_stride(len / 4),
        };
        let pass = plan.pass("copy", vec![call]);
        plan.timed.push(pass);
        plan
    }
}

#[derive(Debug)]
pub struct PeakFma {
    pub dtype: DType,
}

const FMA_SPEC: &[ParamSpec] = &[
    ParamSpec::new("threads", 1, 1 << 23, "invocations, each with 16 independent FMA chains"),
    ParamSpec::new("iters", 64, 1 << 20, "FMA steps per chain (at least 64, so every chain has converged)"),
];

impl KernelImpl for PeakFma {
    fn spec(&self) -> &'static [ParamSpec] {
        FMA_SPEC
    }
    fn op(&self, p: &Params) -> Op {
        Op::Peak(PeakOp::Fma { threads: p.usize("threads"), iters: p.usize("iters"), dtype: self.dtype })
    }
    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        Inputs::Unary(UnaryInputs { x: InputRng::new(seed).vec(p.usize("threads"), -1.0, 1.0) })
    }
    /// Every chain ends at x (the start's weight is m^iters < 2^-64), so the sum is 16 x.
    fn reference(&self, _p: &Params, inputs: &Inputs) -> Vec<f32> {
        inputs.unary().x.iter().map(|&x| (f64::from(x) * FMA_LANES as f64) as f32).collect()
    }
    /// The fp16 chains' fp32 counterpart, for the record's error against fp32.
    fn f32_result(&self, p: &Params, inputs: &Inputs, _seed: u64) -> Option<Vec<f32>> {
        (self.dtype != DType::F32).then(|| self.reference(p, inputs))
    }
    fn work(&self, p: &Params) -> Work {
        let (threads, iters) = (p.usize("threads") as f64, p.usize("iters") as f64);
        Work { flops: 2.0 * FMA_LANES as f64 * threads * iters, bytes: 8.0 * threads }
    }
    fn plan(&self, shader: &'static Shader, p: &Params, inputs: &Inputs) -> Plan {
        let threads = p.usize("threads");
        let mut plan = Plan::new(shader);
        let x = plan.storage_f32("x", &inputs.unary().x);
        let y = plan.output("y", threads, OutputType::F32);
        let call = crate::plan::Call {
            shader,
            entry_point: "main",
            dims: vec![
                ("threads", (threads as u32).into()),
                ("iters", (p.usize("iters") as u32).into()),
                ("m", FMA_M.into()),
            ],
            bindings: vec![("x", x), ("y", y)],
            workgroups: [(threads as u32).div_ceil(256), 1, 1],
        };
        let pass = plan.pass("fma", vec![call]);
        plan.timed.push(pass);
        plan
    }
}
