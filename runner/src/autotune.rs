//! The autotuner's choices on disk: `--autotune` and `--autotune-cache`, the cache file in the
//! user cache directory (read before a run, written after it when something was tuned).

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
    /// The autotune cache file (default: $XDG_CACHE_HOME/accelbench/autotune.json, else
    /// ~/.cache/accelbench/autotune.json)
    #[arg(long, value_name = "FILE")]
    pub autotune_cache: Option<PathBuf>,
}

fn parse_mode(s: &str) -> Result<AutotuneMode, String> {
    AutotuneMode::parse(s)
        .ok_or_else(|| format!("`{s}` is not an autotune mode; choose from {}", AutotuneMode::NAMES.join(", ")))
}

pub fn default_cache_path() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|b| b.join("accelbench/autotune.json"))
}

/// The options for a run, with the cache loaded from disk. A cache that does not parse is
/// set aside (renamed `*.corrupt`, never deleted) and tuning starts afresh.
pub fn load(args: &AutotuneArgs) -> AutotuneOptions {
    let path = args.autotune_cache.clone().or_else(default_cache_path);
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
    let Some(path) = args.autotune_cache.clone().or_else(default_cache_path) else {
        return Ok(());
    };
    write(&path, &opts.cache.table()).with_context(|| {
        format!("saving the autotune cache to {} (pass --autotune-cache FILE elsewhere)", path.display())
    })
}

fn write(path: &Path, table: &AutotuneTable) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(table)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
