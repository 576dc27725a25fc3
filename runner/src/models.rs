//! `accelbench models`: the model presets (or a `--config` file, accelbench's JSON or a Hugging
//! Face `config.json`) with their parameter counts, weight and KV-cache bytes per dtype, and the
//! largest tensor, at the quick and full scales.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use harness::model::{self, PRESETS};
use harness::schema::ModelInfo;

use crate::Outcome;

#[derive(clap::Args, Debug)]
pub struct ModelsArgs {
    /// Describe this config instead of the presets: accelbench's model JSON or a Hugging Face
    /// `config.json` (llama, mistral, qwen2, gpt2, bert, whisper)
    #[arg(long)]
    config: Option<PathBuf>,
    /// One JSON object per model instead of the table
    #[arg(long)]
    json: bool,
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1u64 << 20) as f64)
}

fn count(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.2}B", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1}M", n as f64 / 1e6),
        n => format!("{:.1}k", n as f64 / 1e3),
    }
}

pub fn run(args: &ModelsArgs) -> anyhow::Result<Outcome> {
    let infos: Vec<ModelInfo> = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --config {}; pass a model config JSON file", path.display()))?;
            let cfg = model::parse_config(&text).with_context(|| format!("in --config {}", path.display()))?;
            vec![model::info(&cfg.name.clone(), "from --config", &cfg)]
        }
        None => PRESETS.iter().map(model::Preset::info).collect(),
    };
    // `writeln!`, not `println!`: a closed stdout ends us quietly (main maps the broken pipe).
    let mut out = std::io::stdout().lock();
    if args.json {
        for i in &infos {
            writeln!(out, "{}", serde_json::to_string(i)?)?;
        }
        return Ok(Outcome::Ok);
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "model",
        "scale",
        "layers x hidden",
        "heads / kv",
        "ffn",
        "vocab",
        "parameters",
        "f32 MiB",
        "f16 MiB",
        "int8 MiB",
        "KV f16 KiB/token",
        "largest tensor (f32 MiB)",
    ]);
    for i in &infos {
        for s in &i.scales {
            let c = &s.config;
            let num = |v: String| Cell::new(v).set_alignment(CellAlignment::Right);
            t.add_row(vec![
                Cell::new(&i.preset),
                Cell::new(&s.scale),
                num(format!("{} x {}", c.layers, c.hidden)),
                num(format!("{} / {}", c.heads, c.kv_heads)),
                num(c.ffn.to_string()),
                num(c.vocab.to_string()),
                num(count(s.parameters)),
                num(mib(s.memory[0].weight_bytes)),
                num(mib(s.memory[1].weight_bytes)),
                num(mib(s.memory[2].weight_bytes)),
                num(format!("{:.1}", s.memory[1].kv_bytes_per_token as f64 / 1024.0)),
                Cell::new(format!("{} ({})", s.largest_tensor, mib(s.largest_tensor_bytes))),
            ]);
        }
    }
    writeln!(out, "{t}")?;
    Ok(Outcome::Ok)
}
