//! 1-D convolution with bias (Whisper's two audio-front-end convolutions): parameters, inputs,
//! the f64 reference, work and the one dispatch its plan and a model's lowering share.

use super::{Conv1dInputs, Inputs, KernelImpl, ParamError, ParamSpec, check};
use crate::catalogue::{DType, Params};
use crate::op::{Conv1dDims, Op};
use crate::plan::{BufferId, Call, OutputType, Plan, grid_stride};
use crate::reference;
use crate::rng::InputRng;
use crate::schema::Work;
use crate::shaders::Shader;

#[derive(Debug)]
pub struct Conv1d;

const SPEC: &[ParamSpec] = &[
    ParamSpec::new("c_in", 1, 8192, "input channels (80 mel bands for Whisper's first)"),
    ParamSpec::new("c_out", 1, 8192, "output channels"),
    ParamSpec::new("length", 1, 1 << 20, "input samples per channel"),
    ParamSpec::new("kernel", 1, 31, "taps, odd (zero padding kernel / 2 keeps the length at stride 1)"),
    ParamSpec::new("stride", 1, 16, "step between outputs (2 halves Whisper's frames)"),
    ParamSpec::new("time_major", 0, 1, "1: output (positions, channels), the transformer's layout"),
];

fn dims(p: &Params) -> Conv1dDims {
    Conv1dDims {
        c_in: p.usize("c_in"),
        c_out: p.usize("c_out"),
        length: p.usize("length"),
        kernel: p.usize("kernel"),
        stride: p.usize("stride"),
        in_stride: p.usize("length"),
        time_major: p.get("time_major") == 1,
    }
}

impl KernelImpl for Conv1d {
    fn spec(&self) -> &'static [ParamSpec] {
        SPEC
    }

    fn op(&self, p: &Params) -> Op {
        Op::Conv1d { dims: dims(p), dtype: DType::F32 }
    }

    fn validate(&self, p: &Params) -> Result<(), ParamError> {
        let k = p.get("kernel");
        check("kernel", k, k % 2 == 1, "must be odd (symmetric zero padding)")
    }

    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let d = dims(p);
        let mut rng = InputRng::new(seed);
        // Weights with variance 1 / fan-in keep the output O(1), as the model's are.
        let a = (3.0 / (d.c_in * d.kernel) as f32).sqrt();
        Inputs::Conv1d(Conv1dInputs {
            x: rng.vec(d.c_in * d.length, -1.0, 1.0),
            w: rng.vec(d.c_out * d.c_in * d.kernel, -a, a),
            b: rng.vec(d.c_out, -0.1, 0.1),
        })
    }

    fn reference(&self, p: &Params, i: &Inputs) -> Vec<f32> {
        let d = dims(p);
        let i = i.conv1d();
        let y = reference::conv1d(&i.x, &i.w, &i.b, d.c_in, d.c_out, d.length, d.in_stride, d.kernel, d.stride);
        to_layout(&y, d)
    }

    fn work(&self, p: &Params) -> Work {
        work(dims(p))
    }

    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let d = dims(p);
        let i = i.conv1d();
        let mut plan = Plan::new(shader);
        let x = plan.storage_f32("x", &i.x);
        let w = plan.storage_f32("w", &i.w);
        let b = plan.storage_f32("bias", &i.b);
        let y = plan.output("y", d.c_out * d.out_len(), OutputType::F32);
        let pass = plan.pass("conv1d", vec![call(shader, d, [x, w, b, y])]);
        plan.timed.push(pass);
        plan
    }
}

/// A channel-major (c_out, out_len) result in `d`'s output layout.
pub(crate) fn to_layout(y: &[f32], d: Conv1dDims) -> Vec<f32> {
    if !d.time_major {
        return y.to_vec();
    }
    let n = d.out_len();
    let mut out = vec![0f32; y.len()];
    for o in 0..d.c_out {
        for t in 0..n {
            out[d.out_index(o, t)] = y[o * n + t];
        }
    }
    out
}

/// Multiply-adds of every tap (padding included, as the shader skips them cheaply), and x, w,
/// bias and y moved once.
pub(crate) fn work(d: Conv1dDims) -> Work {
    let f = |v: usize| v as f64;
    let outputs = f(d.c_out * d.out_len());
    Work {
        flops: 2.0 * outputs * f(d.c_in * d.kernel),
        bytes: 4.0 * (f(d.c_in * d.length) + f(d.c_out * d.c_in * d.kernel) + f(d.c_out) + outputs),
    }
}

/// The convolution over buffers `[x, w, bias, y]`, one invocation per output, grid-stride.
pub(crate) fn call(shader: &'static Shader, d: Conv1dDims, [x, w, b, y]: [BufferId; 4]) -> Call {
    let u = |v: usize| (v as u32).into();
    Call {
        shader,
        entry_point: "main",
        dims: vec![
            ("c_in", u(d.c_in)),
            ("c_out", u(d.c_out)),
            ("length", u(d.length)),
            ("kernel", u(d.kernel)),
            ("stride", u(d.stride)),
            ("pad", u(d.pad())),
            ("in_stride", u(d.in_stride)),
            ("out_len", u(d.out_len())),
            ("time_major", u(usize::from(d.time_major))),
        ],
        bindings: vec![("x", x), ("w", w), ("bias", b), ("y", y)],
        workgroups: grid_stride(d.c_out * d.out_len()),
    }
}
