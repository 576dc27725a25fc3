//! Reading model configs: accelbench's own [`ModelConfig`] JSON, or a Hugging Face `config.json`
//! as published beside a model (LLaMA, Qwen2, Mistral, GPT-2, BERT, Whisper), translated field by
//! field; an architecture we cannot build, or a missing or nonsensical field, is refused naming it.

use serde_json::Value;

use crate::schema::{Activation, ModelConfig, ModelFamily, NormKind, Positions};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("not an accelbench model config: {0}")]
    Own(String),
    #[error("`model_type` = {found:?} is not an architecture accelbench can build (supported: {supported})")]
    Architecture { found: String, supported: &'static str },
    #[error("missing field `{0}` (a number)")]
    Missing(&'static str),
    #[error("`{field}` = {value}: {why}")]
    Invalid { field: &'static str, value: String, why: &'static str },
    #[error("no preset `{id}`; presets: {known}")]
    UnknownPreset { id: String, known: String },
}

const SUPPORTED: &str = "llama, mistral, qwen2, gpt2, bert, whisper";

/// A config file's text: Hugging Face's format when it names a `model_type`, else ours.
pub fn parse_config(text: &str) -> Result<ModelConfig, ConfigError> {
    let v: Value = serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?;
    let cfg = if v.get("model_type").is_some() {
        from_hf_config(&v)?
    } else {
        serde_json::from_value(v).map_err(|e| ConfigError::Own(e.to_string()))?
    };
    validate(&cfg)?;
    Ok(cfg)
}

fn num(v: &Value, field: &'static str) -> Result<usize, ConfigError> {
    let x = v.get(field).ok_or(ConfigError::Missing(field))?;
    x.as_u64().filter(|&n| n > 0).map(|n| n as usize).ok_or_else(|| ConfigError::Invalid {
        field,
        value: x.to_string(),
        why: "must be a positive integer",
    })
}

fn opt_num(v: &Value, field: &'static str) -> Result<Option<usize>, ConfigError> {
    if v.get(field).is_none_or(Value::is_null) { Ok(None) } else { num(v, field).map(Some) }
}

fn act(v: &Value, field: &'static str) -> Result<Activation, ConfigError> {
    let s = v.get(field).and_then(Value::as_str).ok_or(ConfigError::Missing(field))?;
    match s {
        "silu" | "swish" => Ok(Activation::SwiGlu),
        "gelu" | "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Activation::Gelu),
        other => Err(ConfigError::Invalid { field, value: other.into(), why: "not silu or a GELU" }),
    }
}

/// Translates a Hugging Face `config.json`.
pub fn from_hf_config(v: &Value) -> Result<ModelConfig, ConfigError> {
    let ty = v.get("model_type").and_then(Value::as_str).unwrap_or_default();
    let name = v.get("_name_or_path").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or(ty).to_owned();
    let base = |family| super::skeleton(&name, family);
    let cfg = match ty {
        "llama" | "mistral" | "qwen2" => {
            let (hidden, heads) = (num(v, "hidden_size")?, num(v, "num_attention_heads")?);
            if act(v, "hidden_act")? != Activation::SwiGlu {
                return Err(ConfigError::Invalid {
                    field: "hidden_act",
                    value: v["hidden_act"].to_string(),
                    why: "LLaMA-style MLPs are SwiGLU (silu)",
                });
            }
            ModelConfig {
                layers: num(v, "num_hidden_layers")?,
                hidden,
                heads,
                kv_heads: opt_num(v, "num_key_value_heads")?.unwrap_or(heads),
                head_dim: opt_num(v, "head_dim")?.unwrap_or(hidden / heads),
                ffn: num(v, "intermediate_size")?,
                vocab: num(v, "vocab_size")?,
                context: num(v, "max_position_embeddings")?,
                norm: NormKind::RmsNorm,
                activation: Activation::SwiGlu,
                positions: Positions::Rope { theta: v.get("rope_theta").and_then(Value::as_f64).unwrap_or(10_000.0) },
                tied_embeddings: v.get("tie_word_embeddings").and_then(Value::as_bool).unwrap_or(false),
                linear_bias: false,
                qkv_bias: ty == "qwen2",
                ..base(ModelFamily::Decoder)
            }
        }
        "gpt2" => {
            let (hidden, heads) = (num(v, "n_embd")?, num(v, "n_head")?);
            act(v, "activation_function")?;
            ModelConfig {
                layers: num(v, "n_layer")?,
                hidden,
                heads,
                kv_heads: heads,
                head_dim: hidden / heads,
                ffn: opt_num(v, "n_inner")?.unwrap_or(4 * hidden),
                vocab: num(v, "vocab_size")?,
                context: num(v, "n_positions")?,
                tied_embeddings: true,
                ..base(ModelFamily::Decoder)
            }
        }
        "bert" => {
            let (hidden, heads) = (num(v, "hidden_size")?, num(v, "num_attention_heads")?);
            act(v, "hidden_act")?;
            ModelConfig {
                layers: num(v, "num_hidden_layers")?,
                hidden,
                heads,
                kv_heads: heads,
                head_dim: hidden / heads,
                ffn: num(v, "intermediate_size")?,
                vocab: num(v, "vocab_size")?,
                context: num(v, "max_position_embeddings")?,
                ..base(ModelFamily::Encoder)
            }
        }
        "whisper" => {
            let (hidden, heads) = (num(v, "d_model")?, num(v, "encoder_attention_heads")?);
            act(v, "activation_function")?;
            ModelConfig {
                layers: num(v, "encoder_layers")?,
                hidden,
                heads,
                kv_heads: heads,
                head_dim: hidden / heads,
                ffn: num(v, "encoder_ffn_dim")?,
                context: num(v, "max_source_positions")?,
                positions: Positions::Sinusoidal,
                n_mels: num(v, "num_mel_bins")?,
                ..base(ModelFamily::AudioEncoder)
            }
        }
        other => return Err(ConfigError::Architecture { found: other.to_owned(), supported: SUPPORTED }),
    };
    Ok(cfg)
}

/// Shapes the operations cannot build, refused before any weight is made.
fn validate(c: &ModelConfig) -> Result<(), ConfigError> {
    let bad = |field, value: usize, why| Err(ConfigError::Invalid { field, value: value.to_string(), why });
    if c.layers == 0 {
        return bad("layers", c.layers, "a model needs at least one layer");
    }
    if c.heads == 0 || c.kv_heads == 0 || !c.heads.is_multiple_of(c.kv_heads) {
        return bad("kv_heads", c.kv_heads, "must divide the number of attention heads");
    }
    if c.head_dim == 0 || !c.head_dim.is_multiple_of(4) {
        return bad("head_dim", c.head_dim, "must be a positive multiple of 4 (vec4 loads)");
    }
    if c.hidden == 0 || c.ffn == 0 || c.context == 0 {
        return bad("hidden", c.hidden, "hidden, ffn and context must be positive");
    }
    if c.family != ModelFamily::AudioEncoder && c.vocab == 0 {
        return bad("vocab", c.vocab, "a token model needs a vocabulary");
    }
    if c.family == ModelFamily::AudioEncoder && c.n_mels == 0 {
        return bad("n_mels", c.n_mels, "an audio encoder needs mel bins");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{parameters, preset};

    /// meta-llama/Llama-3.2-1B's config.json as published (abridged to the fields it has).
    const LLAMA_3_2_1B: &str = r#"{
        "architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 128000,
        "eos_token_id": 128001, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048,
        "initializer_range": 0.02, "intermediate_size": 8192, "max_position_embeddings": 131072,
        "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 16,
        "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
        "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
        "original_max_position_embeddings": 8192, "rope_type": "llama3"}, "rope_theta": 500000.0,
        "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.45.0.dev0",
        "use_cache": true, "vocab_size": 128256 }"#;

    const GPT2: &str = r#"{ "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 12,
        "n_positions": 1024, "vocab_size": 50257 }"#;

    #[test]
    fn hugging_face_configs_give_the_presets_shapes() {
        let llama = parse_config(LLAMA_3_2_1B).unwrap();
        let want = (preset("llama-3.2-1b").unwrap().config)();
        assert_eq!(ModelConfig { name: want.name.clone(), ..llama.clone() }, want);
        assert_eq!(parameters(&llama), 1_235_814_400);
        let gpt2 = parse_config(GPT2).unwrap();
        assert_eq!(parameters(&gpt2), 124_439_808);
        // Our own format round-trips.
        let own = serde_json::to_string(&want).unwrap();
        assert_eq!(parse_config(&own).unwrap(), want);
    }

    #[test]
    fn bad_configs_are_refused_naming_the_field() {
        let e = parse_config(&LLAMA_3_2_1B.replace("\"llama\"", "\"mamba\"")).unwrap_err().to_string();
        assert!(e.contains("`model_type` = \"mamba\"") && e.contains("qwen2"), "{e}");
        let e = parse_config(&LLAMA_3_2_1B.replace("\"hidden_size\": 2048,", "")).unwrap_err().to_string();
        assert!(e.contains("missing field `hidden_size`"), "{e}");
        let e = parse_config(&LLAMA_3_2_1B.replace("\"num_key_value_heads\": 8", "\"num_key_value_heads\": 5"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`kv_heads` = 5") && e.contains("divide"), "{e}");
        let e = parse_config(&LLAMA_3_2_1B.replace("\"silu\"", "\"relu\"")).unwrap_err().to_string();
        assert!(e.contains("`hidden_act` = relu"), "{e}");
        let e = parse_config(r#"{"name": "x", "layerz": 2}"#).unwrap_err().to_string();
        assert!(e.contains("layerz"), "{e}");
        assert!(parse_config("{").unwrap_err().to_string().starts_with("not JSON"));
    }
}
