//! Per-family kernel implementations behind one trait: generate inputs, compute the CPU
//! reference, count the work, and build the GPU [`Plan`]. The catalogue pairs each with its
//! shader and parameter sets.

mod attention;
mod elementwise;
mod kvcache;
mod logmel;
mod matmul;

pub use crate::reference::reflect as reflect_index;
pub use attention::{Attention, AttentionVariant};
pub use elementwise::{Gelu, Norm, Softmax};
pub use kvcache::KvCache;
pub use logmel::{LogMel, MelSetup, speech_clip};
pub use matmul::Matmul;

use crate::catalogue::Params;
use crate::plan::Plan;
use crate::schema::Work;
use crate::shaders::Shader;

/// Host-side inputs of one problem, in the order the implementation defines.
#[derive(Debug, Default, Clone)]
pub struct Inputs {
    pub f32s: Vec<Vec<f32>>,
    pub u32s: Vec<Vec<u32>>,
}

/// A parameter set the kernel cannot run, with the offending values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("`{name}` = {value}: {why}")]
    Invalid { name: &'static str, value: u32, why: &'static str },
}

pub trait KernelImpl: Sync + std::fmt::Debug {
    /// Checks the parameters and generates random inputs from `seed`.
    fn inputs(&self, p: &Params, seed: u64) -> Result<Inputs, ParamError>;
    /// The expected output, as f32, in the layout of the plan's output buffer.
    fn reference(&self, p: &Params, inputs: &Inputs) -> Vec<f32>;
    fn work(&self, p: &Params) -> Work;
    fn plan(&self, shader: &'static Shader, p: &Params, inputs: &Inputs) -> Plan;
}

fn check(name: &'static str, value: u32, ok: bool, why: &'static str) -> Result<(), ParamError> {
    if ok { Ok(()) } else { Err(ParamError::Invalid { name, value, why }) }
}
