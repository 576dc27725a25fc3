//! A suite file (`--suite FILE.toml`): the checked-in description of what a project benchmarks,
//! so CI measures the same kernels, cases, sweeps, sizes, budgets, browsers and backends every
//! time. The file is the whole selection: flags that would contradict it are refused.

use serde::{Deserialize, Serialize};

use super::{PageBackendChoice, Size};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// What this suite is for, shown nowhere but read by people.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "quick")]
    pub size: Size,
    /// Kernel ids or family names (`accelbench kernels`); empty with no cases or sweeps: all.
    #[serde(default)]
    pub kernels: Vec<String>,
    /// `KERNEL:key=value,...`, as `--case`.
    #[serde(default)]
    pub cases: Vec<String>,
    /// `KERNEL:key=v1,v2,...` or ranges, as `--sweep`.
    #[serde(default)]
    pub sweeps: Vec<String>,
    /// Only cases of these dtypes (`f32`, `f16`); empty: all.
    #[serde(default)]
    pub dtypes: Vec<String>,
    /// Only cases of these modes (`inference`, `training`); empty: both.
    #[serde(default)]
    pub modes: Vec<String>,
    #[serde(default = "one")]
    pub seed: u64,
    /// Sampling budget per case and backend, seconds (default: the size's).
    #[serde(default)]
    pub budget_s: Option<f64>,
    /// Native backends, as `--backends` (`wgpu`, `cpu`, `reference`, `openvino`, `cuda`, ...);
    /// empty: no native run (`accelbench run` then drives browsers only).
    #[serde(default = "native")]
    pub native: Vec<String>,
    /// Browsers for `accelbench run` (`chrome`, `firefox`).
    #[serde(default)]
    pub browsers: Vec<String>,
    /// What the page runs on in each browser.
    #[serde(default = "auto")]
    pub page_backends: Vec<PageBackendChoice>,
}

fn quick() -> Size {
    Size::Quick
}
fn one() -> u64 {
    1
}
fn native() -> Vec<String> {
    vec!["wgpu".into(), "cpu".into(), "reference".into()]
}
fn auto() -> Vec<PageBackendChoice> {
    vec![PageBackendChoice::Auto]
}
