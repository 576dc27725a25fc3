//! Block-quantised GEMM and GEMV (q8, q4, and q8 as int8 x int8 products): the weights
//! quantised on the host as [`crate::quant`] packs them, dequantised inside the kernel (or, for
//! int8 x int8, the activations quantised on the device too). The reference dequantises the
//! same blocks and accumulates in f64; the f32 result on the unquantised operands is what the
//! record's error against fp32 is measured from.

use super::{Inputs, KernelImpl, ParamError, ParamSpec, QuantInputs, check};
use crate::catalogue::Params;
use crate::op::{MatmulDims, Op};
use crate::plan::{Call, OutputType, Plan, rows_grid};
use crate::quant::{BLOCK, QuantFormat, quantize, quantize_activations};
use crate::rng::InputRng;
use crate::schema::Work;
use crate::shaders::Shader;

/// `gemv`: the decode shape (m = 1, one workgroup per output); otherwise prefill-shaped GEMM.
#[derive(Debug)]
pub struct QuantMatmul {
    pub format: QuantFormat,
    pub gemv: bool,
}

const GEMM_SPEC: &[ParamSpec] = &[
    ParamSpec::new("m", 1, 65535, "rows of x (tokens)"),
    ParamSpec::new("n", 1, 1 << 20, "output features (rows of W)"),
    ParamSpec::new("k", 32, 1 << 20, "input features, a multiple of 32 (one scale per 32 weights)"),
];

const GEMV_SPEC: &[ParamSpec] = &[
    ParamSpec::new("n", 1, 1 << 22, "output features (rows of W)"),
    ParamSpec::new("k", 32, 1 << 20, "input features, a multiple of 32 (one scale per 32 weights)"),
];

fn dims(gemv: bool, p: &Params) -> MatmulDims {
    let m = if gemv { 1 } else { p.usize("m") };
    MatmulDims { m, n: p.usize("n"), k: p.usize("k"), batch: 1 }
}

impl QuantMatmul {
    fn dims(&self, p: &Params) -> MatmulDims {
        dims(self.gemv, p)
    }
}

fn validate_k(p: &Params) -> Result<(), ParamError> {
    let k = p.get("k");
    check("k", k, k.is_multiple_of(BLOCK as u32), "must be a multiple of 32 (one scale per block of 32)")
}

fn generate(d: MatmulDims, seed: u64) -> Inputs {
    let mut rng = InputRng::new(seed);
    // A linear layer's scale (variance 1 / k), so outputs are O(1) at every k.
    let a = (3.0 / d.k as f32).sqrt();
    Inputs::Quant(QuantInputs { x: rng.vec(d.m * d.k, -1.0, 1.0), w: rng.vec(d.n * d.k, -a, a) })
}

/// `x W^T` accumulated in f64, W (n, k) given row by row.
fn product(x: &[f32], w: &[f32], d: MatmulDims) -> Vec<f32> {
    let mut y = vec![0f32; d.m * d.n];
    for i in 0..d.m {
        let xr = &x[i * d.k..][..d.k];
        for j in 0..d.n {
            let wr = &w[j * d.k..][..d.k];
            y[i * d.n + j] = xr.iter().zip(wr).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum::<f64>() as f32;
        }
    }
    y
}

impl KernelImpl for QuantMatmul {
    fn spec(&self) -> &'static [ParamSpec] {
        if self.gemv { GEMV_SPEC } else { GEMM_SPEC }
    }

    fn op(&self, p: &Params) -> Op {
        Op::QuantMatmul { dims: self.dims(p), format: self.format }
    }

    fn validate(&self, p: &Params) -> Result<(), ParamError> {
        validate_k(p)
    }

    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        generate(self.dims(p), seed)
    }

    /// The dequantised weights' product: what the kernel must compute.
    fn reference(&self, p: &Params, i: &Inputs) -> Vec<f32> {
        let d = self.dims(p);
        let i = i.quant();
        product(&i.x, &quantize(&i.w, d.n, d.k, self.format).dequantize(), d)
    }

    /// The same product on the unquantised weights.
    fn f32_result(&self, p: &Params, i: &Inputs, _seed: u64) -> Option<Vec<f32>> {
        Some(product(&i.quant().x, &i.quant().w, self.dims(p)))
    }

    fn work(&self, p: &Params) -> Work {
        work(self.dims(p), self.format)
    }

    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let d = self.dims(p);
        let i = i.quant();
        let q = quantize(&i.w, d.n, d.k, self.format);
        let mut plan = Plan::new(shader);
        let x = plan.storage_f32("x", &i.x);
        let wq = plan.storage_bytes("wq", bytemuck::cast_slice(&q.words).to_vec());
        let scales = plan.storage_bytes("scales", bytemuck::cast_slice(&q.packed_scales()).to_vec());
        let y = plan.output("y", d.m * d.n, OutputType::F32);
        let pass = plan.pass(if self.gemv { "gemv" } else { "gemm" }, vec![call(shader, d, [x, wq, scales, y])]);
        plan.timed.push(pass);
        plan
    }
}

/// Multiply-adds of every weight, and x, the packed weights with their scales, and y moved once.
pub(crate) fn work(d: MatmulDims, format: QuantFormat) -> Work {
    let f = |v: usize| v as f64;
    Work {
        flops: 2.0 * f(d.m) * f(d.n) * f(d.k),
        bytes: 4.0 * f(d.m * d.k) + f(d.n * format.row_bytes(d.k)) + 4.0 * f(d.m * d.n),
    }
}

/// The quantised product over `[x, wq, scales, y]`: the GEMV entry point for one row (a decode
/// step), the GEMM one otherwise.
pub(crate) fn call(shader: &'static Shader, d: MatmulDims, [x, wq, scales, y]: [crate::plan::BufferId; 4]) -> Call {
    let u = |v: usize| (v as u32).into();
    let gemv = d.m == 1;
    Call {
        shader,
        entry_point: if gemv { "gemv" } else { "gemm" },
        dims: vec![("m", u(d.m)), ("n", u(d.n)), ("k", u(d.k))],
        bindings: vec![("x", x), ("wq", wq), ("scales", scales), ("y", y)],
        workgroups: if gemv { rows_grid(d.n as u32) } else { [(d.n as u32).div_ceil(64), d.m as u32, 1] },
    }
}

/// q8 weights against activations quantised per block of 32 on the device, every block's dot
/// in i32: the int8 x int8 path (`dot4I8Packed` where the WGSL implementation has it, a
/// byte-unpacking fallback everywhere).
#[derive(Debug)]
pub struct Int8Matmul {
    pub gemv: bool,
}

impl KernelImpl for Int8Matmul {
    fn spec(&self) -> &'static [ParamSpec] {
        if self.gemv { GEMV_SPEC } else { GEMM_SPEC }
    }

    fn op(&self, p: &Params) -> Op {
        Op::Int8Matmul { dims: dims(self.gemv, p) }
    }

    fn validate(&self, p: &Params) -> Result<(), ParamError> {
        validate_k(p)
    }

    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        generate(dims(self.gemv, p), seed)
    }

    /// Both operands dequantised, the product in f64: what the kernel must compute, up to a
    /// level where the device's division rounds a value across a half step (the tolerance).
    fn reference(&self, p: &Params, i: &Inputs) -> Vec<f32> {
        let d = dims(self.gemv, p);
        let i = i.quant();
        let x = quantize_activations(&i.x, d.m, d.k).dequantize();
        product(&x, &quantize(&i.w, d.n, d.k, QuantFormat::Q8).dequantize(), d)
    }

    fn f32_result(&self, p: &Params, i: &Inputs, _seed: u64) -> Option<Vec<f32>> {
        Some(product(&i.quant().x, &i.quant().w, dims(self.gemv, p)))
    }

    fn work(&self, p: &Params) -> Work {
        int8_work(dims(self.gemv, p))
    }

    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let d = dims(self.gemv, p);
        let i = i.quant();
        let q = quantize(&i.w, d.n, d.k, QuantFormat::Q8);
        let blocks = d.m * d.k / BLOCK;
        let mut plan = Plan::new(shader);
        let x = plan.storage_f32("x", &i.x);
        let wq = plan.storage_bytes("wq", bytemuck::cast_slice(&q.words).to_vec());
        let scales = plan.storage_bytes("scales", bytemuck::cast_slice(&q.packed_scales()).to_vec());
        let xq = plan.scratch("xq", (blocks * BLOCK) as u64);
        let xs = plan.scratch("xs", (blocks * 4) as u64);
        let y = plan.output("y", d.m * d.n, OutputType::F32);
        let u = |v: usize| (v as u32).into();
        let dims = vec![("m", u(d.m)), ("n", u(d.n)), ("k", u(d.k))];
        let quantize_x = Call {
            shader,
            entry_point: "quantize_x",
            dims: dims.clone(),
            bindings: vec![("x", x), ("xq", xq), ("xs", xs)],
            workgroups: crate::plan::grid_stride(blocks),
        };
        let product = Call {
            shader,
            entry_point: if self.gemv { "gemv" } else { "gemm" },
            dims,
            bindings: vec![("wq", wq), ("scales", scales), ("xq", xq), ("xs", xs), ("y", y)],
            workgroups: if self.gemv { rows_grid(d.n as u32) } else { [(d.n as u32).div_ceil(64), d.m as u32, 1] },
        };
        let pass = plan.pass(if self.gemv { "gemv" } else { "gemm" }, vec![quantize_x, product]);
        plan.timed.push(pass);
        plan
    }
}

/// As [`work`] for q8, plus the quantised activations written and read once.
fn int8_work(d: MatmulDims) -> Work {
    let q8 = work(d, QuantFormat::Q8);
    let xq = (d.m * d.k + 4 * d.m * d.k / BLOCK) as f64;
    Work { flops: q8.flops, bytes: q8.bytes + 2.0 * xq }
}
