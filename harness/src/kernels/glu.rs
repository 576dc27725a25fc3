//! SiLU and SwiGLU: the activations of LLaMA-family MLPs (`silu(x W_gate) * (x W_up)`).

use super::{GluInputs, Inputs, KernelImpl, ParamSpec, UnaryInputs};
use crate::catalogue::{DType, Params};
use crate::op::Op;
use crate::plan::{BufferId, BufferInit, Call, OutputType, Plan, grid_stride};
use crate::reference;
use crate::rng::InputRng;
use crate::schema::Work;
use crate::shaders::Shader;

const SPEC: &[ParamSpec] = &[ParamSpec::new("len", 1, 1 << 30, "elements (of each of gate and up for SwiGLU)")];

/// `gated`: SwiGLU (`silu(gate) * up`); otherwise SiLU alone.
#[derive(Debug)]
pub struct Glu {
    pub gated: bool,
}

impl KernelImpl for Glu {
    fn op(&self, p: &Params) -> Op {
        let len = p.usize("len");
        let dtype = DType::F32;
        if self.gated { Op::SwiGlu { len, dtype } } else { Op::Silu { len, dtype } }
    }

    fn spec(&self) -> &'static [ParamSpec] {
        SPEC
    }

    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let mut rng = InputRng::new(seed);
        let n = p.usize("len");
        // Past |x| = 8 sigmoid saturates; the range covers both tails and the curved middle.
        let x = rng.vec(n, -8.0, 8.0);
        if self.gated {
            Inputs::Glu(GluInputs { gate: x, up: rng.vec(n, -2.0, 2.0) })
        } else {
            Inputs::Unary(UnaryInputs { x })
        }
    }

    fn reference(&self, _p: &Params, i: &Inputs) -> Vec<f32> {
        if self.gated { reference::swiglu(&i.glu().gate, &i.glu().up) } else { reference::silu(&i.unary().x) }
    }

    fn work(&self, p: &Params) -> Work {
        work(self.gated, p.usize("len"))
    }

    fn plan(&self, shader: &'static Shader, p: &Params, inputs: &Inputs) -> Plan {
        let len = p.usize("len");
        let len4 = len.div_ceil(4) as u32;
        let padded = |v: &[f32]| {
            let mut v = v.to_vec();
            v.resize(len4 as usize * 4, 0.0);
            v
        };
        let mut plan = Plan::new(shader);
        let x = if self.gated { &inputs.glu().gate } else { &inputs.unary().x };
        let x = plan.storage_f32("x", &padded(x));
        let up = self.gated.then(|| plan.storage_f32("up", &padded(&inputs.glu().up)));
        let y = plan.output("y", len, OutputType::F32);
        // The output buffer holds whole vec4s; the check reads only the first `len` elements.
        if let BufferInit::Output { bytes } = &mut plan.buffers[y].init {
            *bytes = u64::from(len4) * 16;
        }
        let entry = if self.gated { "swiglu" } else { "silu" };
        let pass = plan.pass(entry, vec![call(shader, len, x, up, y)]);
        plan.timed.push(pass);
        plan
    }
}

/// SiLU of `x`, or SwiGLU `silu(x) * up` when `up` is given, as vec4s, grid-stride.
pub(crate) fn call(shader: &'static Shader, len: usize, x: BufferId, up: Option<BufferId>, y: BufferId) -> Call {
    let len4 = len.div_ceil(4);
    let mut bindings = vec![("x", x), ("y", y)];
    bindings.extend(up.map(|u| ("up", u)));
    Call {
        shader,
        entry_point: if up.is_some() { "swiglu" } else { "silu" },
        dims: vec![("len4", (len4 as u32).into())],
        bindings,
        workgroups: grid_stride(len4),
    }
}

/// SiLU: negate, exp, add, divide (+ the gate's multiply for SwiGLU); one or two f32 in, one out.
pub(crate) fn work(gated: bool, len: usize) -> Work {
    let n = len as f64;
    if gated { Work { flops: 5.0 * n, bytes: 12.0 * n } } else { Work { flops: 4.0 * n, bytes: 8.0 * n } }
}
