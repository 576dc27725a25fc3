//! `--icd`: run the native wgpu side on a chosen Vulkan driver (ICD), e.g. the SwiftShader that
//! Chromium ships, so native and Chrome run the same kernels on the same Vulkan implementation
//! and the difference is what the browser adds. The Vulkan loader reads `VK_ICD_FILENAMES` once
//! at start-up, so we re-run ourselves with it set rather than mutate our own environment.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};

/// Marks the child so it does not re-execute again.
const APPLIED: &str = "ACCELBENCH_ICD_APPLIED";

fn first_existing(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// `swiftshader`, `lavapipe` or a path to an ICD JSON file.
pub fn resolve(name: &str) -> anyhow::Result<PathBuf> {
    let found = match name {
        "swiftshader" => first_existing(&[
            "/usr/lib/chromium/vk_swiftshader_icd.json",
            "/opt/google/chrome/vk_swiftshader_icd.json",
            "/usr/lib64/chromium/vk_swiftshader_icd.json",
        ]),
        "lavapipe" => std::fs::read_dir("/usr/share/vulkan/icd.d").ok().and_then(|d| {
            d.flatten()
                .map(|e| e.path())
                .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("lvp_icd")))
        }),
        path => Some(PathBuf::from(path)).filter(|p| p.exists()),
    };
    match found {
        Some(p) => Ok(p),
        None if name == "swiftshader" => {
            bail!("no SwiftShader Vulkan ICD found; it ships with Chromium: apt-get install chromium")
        }
        None if name == "lavapipe" => bail!("no lavapipe ICD found: apt-get install mesa-vulkan-drivers"),
        None => bail!("--icd {name}: no such file; give `swiftshader`, `lavapipe` or the path of an ICD JSON file"),
    }
}

/// Re-runs this command with only `icd` visible to the Vulkan loader; returns its exit code, or
/// None when this process already is that child.
pub fn reexec(icd: &str) -> anyhow::Result<Option<ExitCode>> {
    if std::env::var_os(APPLIED).is_some() {
        return Ok(None);
    }
    let path = resolve(icd)?;
    let exe = std::env::current_exe().context("finding our own executable to re-run it with the ICD")?;
    let status = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("VK_ICD_FILENAMES", &path)
        .env("VK_DRIVER_FILES", &path)
        .env(APPLIED, Path::new(&path))
        .status()
        .context("re-running with VK_ICD_FILENAMES")?;
    Ok(Some(ExitCode::from(status.code().unwrap_or(2).clamp(0, 255) as u8)))
}
