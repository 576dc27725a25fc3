//! Row-wise and elementwise kernels: softmax, GELU (tanh, erf), LayerNorm and RMSNorm.

use super::{Inputs, KernelImpl, NormInputs, ParamSpec, UnaryInputs};
use crate::catalogue::{DType, Params};
use crate::op::{Op, RowsDims};
use crate::plan::{BufferId, Call, Dispatch, OutputType, Pass, Plan, RowLayout, grid_stride};
use crate::reference;
use crate::rng::InputRng;
use crate::schema::Work;
use crate::shaders::Shader;

/// Row-wise kernels: one workgroup per row, rows spread over x and y of the grid.
const ROWS_SPEC: &[ParamSpec] = &[
    ParamSpec::new("rows", 1, 1 << 26, "independent rows, one workgroup each"),
    ParamSpec::new("cols", 1, 1 << 24, "elements per row (the reduced dimension)"),
];

const LEN_SPEC: &[ParamSpec] = &[ParamSpec::new("len", 1, 1 << 30, "elements")];

fn rows_dims(p: &Params) -> RowsDims {
    RowsDims { rows: p.usize("rows"), cols: p.usize("cols") }
}

fn rows_cols(p: &Params) -> (usize, usize) {
    (p.usize("rows"), p.usize("cols"))
}

fn single_pass(
    label: &str,
    entry_point: &'static str,
    bindings: Vec<(&'static str, usize)>,
    workgroups: [u32; 3],
) -> Pass {
    Pass { label: label.into(), dispatches: vec![Dispatch { shader: None, entry_point, bindings, workgroups }] }
}

/// Row softmax (its fp16 variant is [`super::Half`] of it), laid out as its shader expects.
#[derive(Debug)]
pub struct Softmax {
    pub layout: RowLayout,
}

impl KernelImpl for Softmax {
    fn spec(&self) -> &'static [ParamSpec] {
        ROWS_SPEC
    }

    fn op(&self, p: &Params) -> Op {
        Op::Softmax { dims: rows_dims(p), dtype: DType::F32 }
    }

    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let (rows, cols) = rows_cols(p);
        // Logit-like spread, with an offset that would overflow exp() without the max subtraction.
        let mut rng = InputRng::new(seed);
        let x = (0..rows * cols).map(|_| 40.0 + rng.uniform(-8.0, 8.0)).collect();
        Inputs::Unary(UnaryInputs { x })
    }

    fn reference(&self, p: &Params, inputs: &Inputs) -> Vec<f32> {
        reference::softmax_rows(&inputs.unary().x, p.usize("rows"), p.usize("cols"))
    }

    fn work(&self, p: &Params) -> Work {
        let n = (p.usize("rows") * p.usize("cols")) as f64;
        // max, subtract, exp, sum, scale: 5 operations per element, exp counted as one.
        Work { flops: 5.0 * n, bytes: 8.0 * n }
    }

    fn plan(&self, shader: &'static Shader, p: &Params, inputs: &Inputs) -> Plan {
        let (rows, cols) = (p.get("rows"), p.get("cols"));
        let mut plan = Plan::new(shader);
        let u = plan.uniform("dims", &[("rows", rows.into()), ("cols", cols.into())]);
        let x = plan.storage_f32("x", &inputs.unary().x);
        let y = plan.output("y", (rows * cols) as usize, OutputType::F32);
        plan.timed.push(single_pass("softmax", "main", vec![("dims", u), ("x", x), ("y", y)], self.layout.grid(rows)));
        plan
    }
}

#[derive(Debug)]
pub struct Gelu {
    pub erf: bool,
}

impl KernelImpl for Gelu {
    fn spec(&self) -> &'static [ParamSpec] {
        LEN_SPEC
    }

    fn op(&self, p: &Params) -> Op {
        Op::Gelu { len: p.usize("len"), erf: self.erf, dtype: DType::F32 }
    }

    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let mut rng = InputRng::new(seed);
        Inputs::Unary(UnaryInputs { x: rng.vec(p.usize("len"), -6.0, 6.0) })
    }

    fn reference(&self, _p: &Params, inputs: &Inputs) -> Vec<f32> {
        let x = &inputs.unary().x;
        if self.erf { reference::gelu_erf(x) } else { reference::gelu_tanh(x) }
    }

    fn work(&self, p: &Params) -> Work {
        gelu_work(self.erf, p.usize("len"))
    }

    fn plan(&self, shader: &'static Shader, p: &Params, inputs: &Inputs) -> Plan {
        let len = p.usize("len");
        let len4 = len.div_ceil(4) as u32;
        let mut plan = Plan::new(shader);
        let mut x = inputs.unary().x.clone();
        x.resize(len4 as usize * 4, 0.0);
        let x = plan.storage_f32("x", &x);
        let y = plan.output("y", len, OutputType::F32);
        // The output buffer holds whole vec4s; the check reads only the first `len` elements.
        if let crate::plan::BufferInit::Output { bytes } = &mut plan.buffers[y].init {
            *bytes = u64::from(len4) * 16;
        }
        let entry = if self.erf { "gelu_erf" } else { "gelu_tanh" };
        let pass = plan.pass(entry, vec![gelu_call(shader, self.erf, len, x, y)]);
        plan.timed.push(pass);
        plan
    }
}

#[derive(Debug)]
pub struct Norm {
    pub rms: bool,
    pub layout: RowLayout,
}

/// The norms' epsilon, in the catalogue kernels and in every model (GPT-2, LLaMA, Qwen and
/// Whisper publish 1e-5 or 1e-6; the check compares like with like).
pub const NORM_EPS: f32 = 1e-5;

impl KernelImpl for Norm {
    fn spec(&self) -> &'static [ParamSpec] {
        ROWS_SPEC
    }

    fn op(&self, p: &Params) -> Op {
        let (dims, dtype) = (rows_dims(p), DType::F32);
        if self.rms { Op::RmsNorm { dims, dtype } } else { Op::LayerNorm { dims, dtype } }
    }

    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let (rows, cols) = rows_cols(p);
        let mut rng = InputRng::new(seed);
        // A per-row offset exercises the two-pass variance (E[x^2] - E[x]^2 would cancel).
        let mut x = Vec::with_capacity(rows * cols);
        for _ in 0..rows {
            let off = rng.uniform(-20.0, 20.0);
            x.extend((0..cols).map(|_| off + rng.uniform(-2.0, 2.0)));
        }
        let gamma = rng.vec(cols, 0.5, 1.5);
        let beta = rng.vec(cols, -0.5, 0.5);
        Inputs::Norm(NormInputs { x, gamma, beta })
    }

    fn reference(&self, p: &Params, i: &Inputs) -> Vec<f32> {
        let (rows, cols) = (p.usize("rows"), p.usize("cols"));
        if self.rms {
            reference::rmsnorm(&i.norm().x, &i.norm().gamma, rows, cols, NORM_EPS)
        } else {
            reference::layernorm(&i.norm().x, &i.norm().gamma, &i.norm().beta, rows, cols, NORM_EPS)
        }
    }

    fn work(&self, p: &Params) -> Work {
        norm_work(self.rms, p.usize("rows"), p.usize("cols"))
    }

    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let (rows, cols) = (p.get("rows"), p.get("cols"));
        let mut plan = Plan::new(shader);
        let i = i.norm();
        let x = plan.storage_f32("x", &i.x);
        let g = plan.storage_f32("gamma", &i.gamma);
        let b = plan.storage_f32("beta", &i.beta);
        let y = plan.output("y", (rows * cols) as usize, OutputType::F32);
        let entry = if self.rms { "rmsnorm" } else { "layernorm" };
        let mut call = norm_call(shader, self.rms, rows as usize, cols as usize, x, g, Some(b), y);
        // norm_call lays rows out as norm.wgsl (what models run) expects; a variant may not.
        call.workgroups = self.layout.grid(rows);
        let pass = plan.pass(entry, vec![call]);
        plan.timed.push(pass);
        plan
    }
}

/// GELU over `len` elements as vec4s (buffers padded to whole vec4s), grid-stride.
pub(crate) fn gelu_call(shader: &'static Shader, erf: bool, len: usize, x: BufferId, y: BufferId) -> Call {
    let len4 = len.div_ceil(4);
    Call {
        shader,
        entry_point: if erf { "gelu_erf" } else { "gelu_tanh" },
        dims: vec![("len4", (len4 as u32).into())],
        bindings: vec![("x", x), ("y", y)],
        workgroups: grid_stride(len4),
    }
}

/// LayerNorm (`rms` false, `beta` given) or RMSNorm over `rows` rows, one workgroup each.
#[allow(clippy::too_many_arguments, reason = "the shader's bindings, each named")]
pub(crate) fn norm_call(
    shader: &'static Shader,
    rms: bool,
    rows: usize,
    cols: usize,
    x: BufferId,
    gamma: BufferId,
    beta: Option<BufferId>,
    y: BufferId,
) -> Call {
    let mut bindings = vec![("x", x), ("gamma", gamma), ("y", y)];
    bindings.extend(beta.map(|b| ("beta", b)));
    Call {
        shader,
        entry_point: if rms { "rmsnorm" } else { "layernorm" },
        dims: vec![("rows", (rows as u32).into()), ("cols", (cols as u32).into()), ("eps", NORM_EPS.into())],
        bindings,
        workgroups: RowLayout::Workgroup.grid(rows as u32),
    }
}

/// GELU: 14 operations an element with erf, 9 with tanh; x in, y out.
pub(crate) fn gelu_work(erf: bool, len: usize) -> Work {
    let n = len as f64;
    Work { flops: if erf { 14.0 * n } else { 9.0 * n }, bytes: 8.0 * n }
}

/// A norm over `rows` rows: 7 operations an element (LayerNorm) or 4 (RMSNorm); x in, y out,
/// gamma (and beta) read once.
pub(crate) fn norm_work(rms: bool, rows: usize, cols: usize) -> Work {
    let (rows, cols) = (rows as f64, cols as f64);
    let per = if rms { 4.0 } else { 7.0 };
    let params = if rms { 1.0 } else { 2.0 };
    Work { flops: per * rows * cols, bytes: 8.0 * rows * cols + 4.0 * params * cols }
}
