//! Per-family kernel implementations behind one trait: generate inputs, compute the CPU
//! reference, count the work, and build the GPU [`Plan`]. The catalogue pairs each with its
//! shader and parameter sets.

mod attention;
mod backward;
mod conv1d;
mod elementwise;
mod embedding;
mod glu;
mod half;
mod inputs;
mod kvcache;
mod logmel;
mod matmul;
mod model_ops;
mod peak;
mod quant;
mod rope;

pub use crate::reference::reflect as reflect_index;
pub use attention::{Attention, AttentionVariant};
pub use backward::{ADAMW, Backward};
pub use conv1d::Conv1d;
pub use elementwise::{Gelu, NORM_EPS, Norm, Softmax};
pub use embedding::Embedding;
pub use glu::Glu;
pub use half::Half;
pub use inputs::{
    AdamWInputs, AddInputs, AttentionInputs, AudioInputs, BackwardInputs, CachedAttentionInputs, Conv1dInputs,
    CrossEntropyInputs, EmbeddingInputs, GluInputs, Inputs, KvCacheInputs, LmHeadInputs, MatmulInputs, NormInputs,
    QuantInputs, RopeInputs, UnaryInputs,
};
pub use kvcache::KvCache;
pub use logmel::{LogMel, MEL_HOP, MelSetup, MelTables, mel_config, speech_clip};
pub use matmul::Matmul;
pub use model_ops::{Add, CachedAttention, LmHead};
pub use peak::{FMA_LANES, FMA_M, PeakCopy, PeakFma};
pub use quant::{Int8Matmul, QuantMatmul};
pub use rope::Rope;

/// Each family's dispatches as [`crate::plan::Call`]s: what its own plan is built from and what
/// a model's lowering chains, so entry points, binding names and grids live in one place.
pub(crate) mod calls {
    pub(crate) use super::backward::{
        Activation, AttnLayout, MatmulGrad, NormOffsets, activation_call as activation_grad,
        adamw_step_call as adamw_step, attention_calls as attention_grad, attention_forward_call as attention_forward,
        cross_entropy_call as cross_entropy, embedding_call as embedding_grad, matmul_calls as matmul_grad,
        norm_calls as norm_grad,
    };
    pub(crate) use super::conv1d::call as conv1d;
    pub(crate) use super::elementwise::{gelu_call as gelu, norm_call as norm};
    pub(crate) use super::embedding::call as embedding;
    pub(crate) use super::glu::call as silu;
    pub(crate) use super::logmel::{MelBuffers, call as logmel};
    pub(crate) use super::matmul::call as matmul;
    pub(crate) use super::model_ops::{
        CacheBuffers, LmHeadAt, add_call as add, cache_calls as cached_attention, lm_head_calls as lm_head,
    };
    pub(crate) use super::quant::call as quant_matmul;
    pub(crate) use super::rope::call as rope;
}

/// Each family's work count from its dimensions: what its catalogue entry reports and what a
/// model's total is summed from.
pub(crate) mod work {
    pub(crate) use super::conv1d::work as conv1d;
    pub(crate) use super::elementwise::{gelu_work as gelu, norm_work as norm};
    pub(crate) use super::embedding::work as embedding;
    pub(crate) use super::glu::work as silu;
    pub(crate) use super::logmel::work as logmel;
    pub(crate) use super::matmul::work as matmul;
    pub(crate) use super::model_ops::{add_work as add, lm_head_work as lm_head};
    pub(crate) use super::quant::work as quant_matmul;
    pub(crate) use super::rope::work as rope;
}

use crate::catalogue::Params;
use crate::plan::Plan;
use crate::schema::Work;
use crate::shaders::Shader;

/// A parameter set the kernel cannot run, with the offending values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("`{name}` = {value}: {why}")]
    Invalid { name: &'static str, value: u32, why: &'static str },
    #[error("`{name}` = {value} is outside {min}..={max}")]
    OutOfRange { name: &'static str, value: u32, min: u32, max: u32 },
    #[error("`{name}` is missing")]
    Missing { name: &'static str },
}

/// One parameter a kernel accepts: its name, inclusive range and meaning. The ranges are the
/// kernel's own limits (index widths, workgroup buffers); what fits a device is checked against
/// its limits when the case runs (a `skipped` record names the limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    pub name: &'static str,
    pub min: u32,
    pub max: u32,
    pub doc: &'static str,
}

impl ParamSpec {
    pub const fn new(name: &'static str, min: u32, max: u32, doc: &'static str) -> ParamSpec {
        ParamSpec { name, min, max, doc }
    }
}

impl std::fmt::Display for ParamSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}..={}: {})", self.name, self.min, self.max, self.doc)
    }
}

/// Every key of `spec` present in `p` and within its range.
pub fn check_spec(spec: &[ParamSpec], p: &Params) -> Result<(), ParamError> {
    for s in spec {
        let Some(&(_, value)) = p.values.iter().find(|(k, _)| *k == s.name) else {
            return Err(ParamError::Missing { name: s.name });
        };
        if !(s.min..=s.max).contains(&value) {
            return Err(ParamError::OutOfRange { name: s.name, value, min: s.min, max: s.max });
        }
    }
    Ok(())
}

pub trait KernelImpl: Sync + std::fmt::Debug {
    /// The typed operation for parameters that passed [`KernelImpl::inputs`]' checks: what
    /// backends match on.
    fn op(&self, p: &Params) -> crate::op::Op;
    /// Whether the kernel is part of inference or of a training step (backward, loss, update).
    fn mode(&self) -> crate::schema::Mode {
        crate::schema::Mode::Inference
    }
    /// The parameters this kernel takes, in the order records and case names list them.
    fn spec(&self) -> &'static [ParamSpec];
    /// Everything about `p` the kernel needs beyond [`check_spec`]: relations between parameters
    /// and the shaders' own limits.
    fn validate(&self, _p: &Params) -> Result<(), ParamError> {
        Ok(())
    }
    /// Random inputs from `seed` for parameters that passed [`KernelImpl::inputs`]' checks.
    fn generate(&self, p: &Params, seed: u64) -> Inputs;
    /// Checks the parameters ([`check_spec`], [`KernelImpl::validate`]) and generates random
    /// inputs from `seed`.
    fn inputs(&self, p: &Params, seed: u64) -> Result<Inputs, ParamError> {
        check_spec(self.spec(), p)?;
        self.validate(p)?;
        Ok(self.generate(p, seed))
    }
    /// The expected output, as f32, in the layout of the plan's output buffer.
    fn reference(&self, p: &Params, inputs: &Inputs) -> Vec<f32>;
    /// For a reduced-precision variant (fp16, q8, q4): the same operation in f32 on the inputs
    /// before rounding or quantisation (regenerated from `seed` where `inputs` hold rounded
    /// values), which the record's error against fp32 is measured from. `None` for f32 kernels.
    fn f32_result(&self, _p: &Params, _inputs: &Inputs, _seed: u64) -> Option<Vec<f32>> {
        None
    }
    fn work(&self, p: &Params) -> Work;
    fn plan(&self, shader: &'static Shader, p: &Params, inputs: &Inputs) -> Plan;
}

fn check(name: &'static str, value: u32, ok: bool, why: &'static str) -> Result<(), ParamError> {
    if ok { Ok(()) } else { Err(ParamError::Invalid { name, value, why }) }
}
