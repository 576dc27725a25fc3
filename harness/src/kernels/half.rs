//! The fp16 variant of a family, from its f32 kernel: every f32 input rounded to fp16 (so the
//! reference sees exactly what the GPU reads), the reference computed on those values in f64
//! and rounded as the shader stores its output, and the f32 plan re-encoded as fp16 wherever
//! the `_f16` shader's reflection says a binding holds f16 ([`Plan::to_half`]). Arithmetic
//! stays f32 in the shaders, the contract every `_f16` WGSL file states.

use super::{Inputs, KernelImpl, ParamError, ParamSpec};
use crate::catalogue::{DType, Params};
use crate::op::Op;
use crate::plan::Plan;
use crate::schema::Work;
use crate::shaders::Shader;

#[derive(Debug)]
pub struct Half<K: 'static> {
    pub kernel: K,
    /// The shader stores its checked output as f16 (the LM head's logits stay f32).
    pub output_f16: bool,
}

impl<K: KernelImpl> KernelImpl for Half<K> {
    fn op(&self, p: &Params) -> Op {
        self.kernel.op(p).with_dtype(DType::F16)
    }

    fn mode(&self) -> crate::schema::Mode {
        self.kernel.mode()
    }

    fn spec(&self) -> &'static [ParamSpec] {
        self.kernel.spec()
    }

    fn validate(&self, p: &Params) -> Result<(), ParamError> {
        self.kernel.validate(p)
    }

    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let mut i = self.kernel.generate(p, seed);
        i.round_f16();
        i
    }

    fn reference(&self, p: &Params, inputs: &Inputs) -> Vec<f32> {
        let mut y = self.kernel.reference(p, inputs);
        if self.output_f16 {
            for v in &mut y {
                *v = half::f16::from_f32(*v).to_f32();
            }
        }
        y
    }

    /// The f32 kernel on its own (unrounded) inputs from the same seed.
    fn f32_result(&self, p: &Params, _inputs: &Inputs, seed: u64) -> Option<Vec<f32>> {
        Some(self.kernel.reference(p, &self.kernel.generate(p, seed)))
    }

    /// The f32 kernel's operations; bytes at two per element (ids, page tables and the f32
    /// tables some kernels keep are a small share of what they move).
    fn work(&self, p: &Params) -> Work {
        let w = self.kernel.work(p);
        Work { flops: w.flops, bytes: w.bytes / 2.0 }
    }

    fn plan(&self, shader: &'static Shader, p: &Params, inputs: &Inputs) -> Plan {
        let mut plan = self.kernel.plan(shader, p, inputs);
        plan.to_half();
        plan
    }
}
