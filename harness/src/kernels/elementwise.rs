//! Row-wise and elementwise kernels: softmax, GELU (tanh, erf), LayerNorm and RMSNorm.

use super::{Inputs, KernelImpl, NormInputs, ParamSpec, UnaryInputs};
use crate::catalogue::Params;
use crate::op::{Op, RowsDims};
use crate::plan::{BufferId, Call, Dispatch, OutputType, Pass, Plan, grid_stride, rows_grid};
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

/// The storage type of a kernel with an fp16 variant.
fn dtype(half: bool) -> crate::catalogue::DType {
    if half { crate::catalogue::DType::F16 } else { crate::catalogue::DType::F32 }
}

/// Rounds every value to the nearest fp16: the inputs an fp16 kernel and its reference share,
/// and the reference's output as the kernel stores it.
pub(crate) fn round_f16(v: &mut [f32]) {
    for x in v {
        *x = half::f16::from_f32(*x).to_f32();
    }
}

/// f32 storage, or fp16 (`half`) of the same values.
fn storage(plan: &mut Plan, half: bool, label: &str, v: &[f32]) -> BufferId {
    if half { plan.storage_f16(label, v) } else { plan.storage_f32(label, v) }
}

fn out_type(half: bool) -> OutputType {
    if half { OutputType::F16 } else { OutputType::F32 }
}

/// Row softmax; `half`: fp16 storage, f32 arithmetic (`softmax_f16.wgsl`).
#[derive(Debug)]
pub struct Softmax {
    pub half: bool,
}

impl KernelImpl for Softmax {
    fn spec(&self) -> &'static [ParamSpec] {
        ROWS_SPEC
    }

    fn op(&self, p: &Params) -> Op {
        Op::Softmax { dims: rows_dims(p), dtype: dtype(self.half) }
    }

    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let (rows, cols) = rows_cols(p);
        // Logit-like spread, with an offset that would overflow exp() without the max subtraction.
        let mut rng = InputRng::new(seed);
        let mut x: Vec<f32> = (0..rows * cols).map(|_| 40.0 + rng.uniform(-8.0, 8.0)).collect();
        if self.half {
            round_f16(&mut x);
        }
        Inputs::Unary(UnaryInputs { x })
    }

    fn reference(&self, p: &Params, inputs: &Inputs) -> Vec<f32> {
        let mut y = reference::softmax_rows(&inputs.unary().x, p.usize("rows"), p.usize("cols"));
        if self.half {
            round_f16(&mut y);
        }
        y
    }

    fn f32_result(&self, p: &Params, _inputs: &Inputs, seed: u64) -> Option<Vec<f32>> {
        let f32 = Softmax { half: false };
        self.half.then(|| f32.reference(p, &f32.generate(p, seed)))
    }

    fn work(&self, p: &Params) -> Work {
        let n = (p.usize("rows") * p.usize("cols")) as f64;
        let size = if self.half { 2.0 } else { 4.0 };
        // max, subtract, exp, sum, scale: 5 operations per element, exp counted as one.
        Work { flops: 5.0 * n, bytes: 2.0 * size * n }
    }

    fn plan(&self, shader: &'static Shader, p: &Params, inputs: &Inputs) -> Plan {
        let (rows, cols) = (p.get("rows"), p.get("cols"));
        let mut plan = Plan::new(shader);
        let u = plan.uniform("dims", &[("rows", rows.into()), ("cols", cols.into())]);
        let x = storage(&mut plan, self.half, "x", &inputs.unary().x);
        let y = plan.output("y", (rows * cols) as usize, out_type(self.half));
        plan.timed.push(single_pass("softmax", "main", vec![("dims", u), ("x", x), ("y", y)], rows_grid(rows)));
        plan
    }
}

#[derive(Debug)]
pub struct Gelu {
    pub erf: bool,
    /// fp16 storage, f32 arithmetic (`gelu_f16.wgsl`).
    pub half: bool,
}

impl KernelImpl for Gelu {
    fn spec(&self) -> &'static [ParamSpec] {
        LEN_SPEC
    }

    fn op(&self, p: &Params) -> Op {
        Op::Gelu { len: p.usize("len"), erf: self.erf, dtype: dtype(self.half) }
    }

    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let mut rng = InputRng::new(seed);
        let mut x = rng.vec(p.usize("len"), -6.0, 6.0);
        if self.half {
            round_f16(&mut x);
        }
        Inputs::Unary(UnaryInputs { x })
    }

    fn reference(&self, _p: &Params, inputs: &Inputs) -> Vec<f32> {
        let x = &inputs.unary().x;
        let mut y = if self.erf { reference::gelu_erf(x) } else { reference::gelu_tanh(x) };
        if self.half {
            round_f16(&mut y);
        }
        y
    }

    fn f32_result(&self, p: &Params, _inputs: &Inputs, seed: u64) -> Option<Vec<f32>> {
        let f32 = Gelu { erf: self.erf, half: false };
        self.half.then(|| f32.reference(p, &f32.generate(p, seed)))
    }

    fn work(&self, p: &Params) -> Work {
        let w = gelu_work(self.erf, p.usize("len"));
        if self.half { Work { bytes: w.bytes / 2.0, ..w } } else { w }
    }

    fn plan(&self, shader: &'static Shader, p: &Params, inputs: &Inputs) -> Plan {
        let len = p.usize("len");
        let len4 = len.div_ceil(4) as u32;
        let mut plan = Plan::new(shader);
        let mut x = inputs.unary().x.clone();
        x.resize(len4 as usize * 4, 0.0);
        let x = storage(&mut plan, self.half, "x", &x);
        let y = plan.output("y", len, out_type(self.half));
        // The output buffer holds whole vec4s; the check reads only the first `len` elements.
        if let crate::plan::BufferInit::Output { bytes } = &mut plan.buffers[y].init {
            *bytes = u64::from(len4) * if self.half { 8 } else { 16 };
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
    /// fp16 storage of x, gamma, beta and y, f32 arithmetic (`norm_f16.wgsl`).
    pub half: bool,
}

/// The norms' epsilon, in the catalogue kernels and in every model (GPT-2, LLaMA, Qwen and
/// Whisper publish 1e-5 or 1e-6; the check compares like with like).
pub const NORM_EPS: f32 = 1e-5;

impl KernelImpl for Norm {
    fn spec(&self) -> &'static [ParamSpec] {
        ROWS_SPEC
    }

    fn op(&self, p: &Params) -> Op {
        let (dims, dtype) = (rows_dims(p), dtype(self.half));
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
        let mut gamma = rng.vec(cols, 0.5, 1.5);
        let mut beta = rng.vec(cols, -0.5, 0.5);
        if self.half {
            for v in [&mut x, &mut gamma, &mut beta] {
                round_f16(v);
            }
        }
        Inputs::Norm(NormInputs { x, gamma, beta })
    }

    fn reference(&self, p: &Params, i: &Inputs) -> Vec<f32> {
        let (rows, cols) = (p.usize("rows"), p.usize("cols"));
        let mut y = if self.rms {
            reference::rmsnorm(&i.norm().x, &i.norm().gamma, rows, cols, NORM_EPS)
        } else {
            reference::layernorm(&i.norm().x, &i.norm().gamma, &i.norm().beta, rows, cols, NORM_EPS)
        };
        if self.half {
            round_f16(&mut y);
        }
        y
    }

    fn f32_result(&self, p: &Params, _inputs: &Inputs, seed: u64) -> Option<Vec<f32>> {
        let f32 = Norm { rms: self.rms, half: false };
        self.half.then(|| f32.reference(p, &f32.generate(p, seed)))
    }

    fn work(&self, p: &Params) -> Work {
        let w = norm_work(self.rms, p.usize("rows"), p.usize("cols"));
        if self.half { Work { bytes: w.bytes / 2.0, ..w } } else { w }
    }

    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let (rows, cols) = (p.get("rows"), p.get("cols"));
        let mut plan = Plan::new(shader);
        let i = i.norm();
        let x = storage(&mut plan, self.half, "x", &i.x);
        let g = storage(&mut plan, self.half, "gamma", &i.gamma);
        let b = storage(&mut plan, self.half, "beta", &i.beta);
        let y = plan.output("y", (rows * cols) as usize, out_type(self.half));
        let entry = if self.rms { "rmsnorm" } else { "layernorm" };
        let pass = plan.pass(entry, vec![norm_call(shader, self.rms, rows as usize, cols as usize, x, g, Some(b), y)]);
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
        workgroups: rows_grid(rows as u32),
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
