//! Block-quantised GEMM and GEMV (q8, q4): the weights quantised on the host as
//! [`crate::quant`] packs them, dequantised inside the kernel. The reference dequantises the same
//! blocks and accumulates in f64; the f32 result on the unquantised weights is what the record's
//! error against fp32 is measured from.

use super::{Inputs, KernelImpl, ParamError, ParamSpec, QuantInputs, check};
use crate::catalogue::Params;
use crate::op::{MatmulDims, Op};
use crate::plan::{Call, OutputType, Plan, rows_grid};
use crate::quant::{BLOCK, QuantFormat, quantize};
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

impl QuantMatmul {
    fn dims(&self, p: &Params) -> MatmulDims {
        let m = if self.gemv { 1 } else { p.usize("m") };
        MatmulDims { m, n: p.usize("n"), k: p.usize("k"), batch: 1 }
    }
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
        let k = p.get("k");
        check("k", k, k.is_multiple_of(BLOCK as u32), "must be a multiple of 32 (one scale per block of 32)")
    }

    fn generate(&self, p: &Params, seed: u64) -> Inputs {
        let d = self.dims(p);
        let mut rng = InputRng::new(seed);
        // A linear layer's scale (variance 1 / k), so outputs are O(1) at every k.
        let a = (3.0 / d.k as f32).sqrt();
        Inputs::Quant(QuantInputs { x: rng.vec(d.m * d.k, -1.0, 1.0), w: rng.vec(d.n * d.k, -a, a) })
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
