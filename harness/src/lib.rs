//! accelbench's shared library, for native and wasm32 alike: the kernel catalogue, the CPU
//! reference implementations, wgpu execution and timing, statistics, and the result schema.
//!
//! Dependency direction: `schema` and `stats` depend on nothing here; `catalogue` and `kernels`
//! build on `shaders`, `plan` and `reference`; `gpu` executes plans and produces `schema` records.
//! Only `schema` types are serialisable.

#![warn(clippy::disallowed_methods, reason = "harness runs on wasm32, where Instant::now panics")]

pub mod autotune;
pub mod cases;
pub mod catalogue;
pub mod changepoint;
#[cfg(feature = "charts")]
pub mod charts;
pub mod check;
pub mod clock;
pub mod compare;
pub mod env;
pub mod format;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod grad;
pub mod history;
pub mod host;
#[cfg(feature = "charts")]
pub mod html;
pub mod kernels;
pub mod measure;
pub mod model;
pub mod op;
pub mod peak;
pub mod plan;
pub mod predict;
pub mod quant;
pub mod recommend;
pub mod reference;
pub mod rng;
pub mod scaling;
pub mod schema;
pub mod shaders;
pub mod stats;
#[cfg(test)]
mod testing;
pub mod train;

pub use catalogue::{KERNELS, Kernel};
