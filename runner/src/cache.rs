//! The caches that make a second run on a machine faster, on disk under `--cache-dir` (default
//! the user cache directory): the autotuner's choices (`autotune.json`) and each Vulkan
//! device's pipeline cache (`pipelines/<adapter and driver>.bin`, with the pipelines it holds
//! beside it). Each is read before a run and written atomically after it; one that does not
//! parse or fails its checksum is set aside, never deleted, and the run starts afresh.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use harness::autotune::{AutotuneCache, AutotuneMode, AutotuneOptions};
use harness::schema::AutotuneTable;

/// The flags every command that runs GPU kernels takes.
#[derive(clap::Args, Debug, Clone)]
pub struct AutotuneArgs {
    /// Choose among each kernel's variants per adapter: `cached` (an earlier choice where one
    /// was made on this adapter and driver, else tune), `full` (tune again), `off` (the
    /// kernel's own implementation)
    #[arg(long, default_value = "cached", value_parser = parse_mode)]
    pub autotune: AutotuneMode,
    /// Where the autotune choices and the pipeline caches live (default:
    /// $XDG_CACHE_HOME/accelbench, else ~/.cache/accelbench)
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl AutotuneArgs {
    pub fn dir(&self) -> Option<PathBuf> {
        self.cache_dir.clone().or_else(default_cache_dir)
    }
}

fn parse_mode(s: &str) -> Result<AutotuneMode, String> {
    AutotuneMode::parse(s)
        .ok_or_else(|| format!("`{s}` is not an autotune mode; choose from {}", AutotuneMode::NAMES.join(", ")))
}

pub fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|b| b.join("accelbench"))
}

/// The options for a run, with the cache loaded from disk. A cache that does not parse is
/// set aside (renamed `*.corrupt`, never deleted) and tuning starts afresh.
pub fn load(args: &AutotuneArgs) -> AutotuneOptions {
    let path = args.dir().map(|d| d.join("autotune.json"));
    let table = match path.as_deref().map(std::fs::read_to_string) {
        Some(Ok(text)) => match serde_json::from_str::<AutotuneTable>(&text) {
            Ok(t) => t,
            Err(e) => {
                let path = path.as_deref().expect("read from a path");
                let aside = path.with_extension("json.corrupt");
                let _ = std::fs::rename(path, &aside);
                eprintln!(
                    "warning: the autotune cache {} does not parse ({e}); moved it to {} and tuning afresh",
                    path.display(),
                    aside.display()
                );
                AutotuneTable::default()
            }
        },
        _ => AutotuneTable::default(),
    };
    AutotuneOptions { mode: args.autotune, cache: AutotuneCache::new(table) }
}

/// Writes the cache back if this run tuned anything (atomically: a crash leaves the old file).
pub fn save(args: &AutotuneArgs, opts: &AutotuneOptions) -> anyhow::Result<()> {
    if !opts.cache.changed() {
        return Ok(());
    }
    let Some(path) = args.dir().map(|d| d.join("autotune.json")) else {
        return Ok(());
    };
    write_atomic(&path, &serde_json::to_vec_pretty(&opts.cache.table())?)
        .with_context(|| format!("saving the autotune cache to {} (pass --cache-dir DIR elsewhere)", path.display()))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The stored pipeline cache file's first bytes: a format tag, then the FNV-1a hash of the
/// driver's bytes, so a truncated or altered file is never handed to the driver.
const PIPELINE_MAGIC: &[u8; 8] = b"ABPC0001";

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn pipeline_paths(dir: &Path, key: &str) -> (PathBuf, PathBuf) {
    let base = dir.join("pipelines");
    (base.join(format!("{key}.bin")), base.join(format!("{key}.json")))
}

/// Primes each device's pipeline cache from `dir`, where it has one stored for its adapter
/// and driver.
pub fn attach_pipeline_caches(devices: &mut [(String, harness::gpu::GpuDevice)], dir: Option<&Path>) {
    let Some(dir) = dir else { return };
    for (_, dev) in devices {
        let Some(key) = dev.pipeline_cache_key() else { continue };
        let (bin, list) = pipeline_paths(dir, &key);
        let Ok(bytes) = std::fs::read(&bin) else { continue };
        let data = (bytes.len() >= 16 && &bytes[..8] == PIPELINE_MAGIC)
            .then(|| (u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")), &bytes[16..]))
            .filter(|(sum, data)| fnv1a(data) == *sum)
            .map(|(_, data)| data);
        let Some(data) = data else {
            let mut aside = bin.as_os_str().to_owned();
            aside.push(".corrupt");
            let _ = std::fs::rename(&bin, &aside);
            eprintln!(
                "warning: the pipeline cache {} fails its checksum; moved it aside and compiling afresh",
                bin.display()
            );
            continue;
        };
        let known = std::fs::read_to_string(&list)
            .ok()
            .and_then(|t| serde_json::from_str::<Vec<String>>(&t).ok())
            .unwrap_or_default();
        dev.attach_pipeline_cache(Some(data), known.into_iter().collect());
    }
}

/// Stores each device's pipeline cache in `dir` for the next run.
pub fn save_pipeline_caches(devices: &[(String, harness::gpu::GpuDevice)], dir: Option<&Path>) {
    let Some(dir) = dir else { return };
    for (label, dev) in devices {
        let (Some(key), Some((data, known))) = (dev.pipeline_cache_key(), dev.pipeline_cache_data()) else {
            continue;
        };
        let (bin, list) = pipeline_paths(dir, &key);
        let mut bytes = PIPELINE_MAGIC.to_vec();
        bytes.extend(fnv1a(&data).to_le_bytes());
        bytes.extend(&data);
        let known: Vec<String> = known.into_iter().collect();
        let saved = write_atomic(&list, &serde_json::to_vec(&known).unwrap_or_default())
            .and_then(|()| write_atomic(&bin, &bytes));
        if let Err(e) = saved {
            eprintln!("warning: {label}'s pipeline cache was not saved to {}: {e:#}", bin.display());
        }
    }
}
