//! The training step's reference: its composed gradient against finite differences of the loss
//! on tiny configs of both decoder styles, and its loss falling over 20 steps at quick scale.

use super::{TrainGraph, reference};
use crate::schema::{Activation, ModelConfig, NormKind, Positions};

fn tiny(llama: bool) -> ModelConfig {
    let base = crate::model::preset(if llama { "llama-3.2-1b" } else { "gpt2-small" }).unwrap();
    let cfg = (base.config)();
    ModelConfig {
        layers: 1,
        hidden: 8,
        heads: 2,
        kv_heads: if llama { 1 } else { 2 },
        head_dim: 4,
        ffn: 12,
        vocab: 11,
        context: 16,
        ..cfg
    }
}

#[test]
fn the_composed_gradient_matches_finite_differences_of_the_loss() {
    for llama in [false, true] {
        let cfg = tiny(llama);
        assert_eq!(cfg.norm == NormKind::RmsNorm, llama);
        assert_eq!(cfg.activation == Activation::SwiGlu, llama);
        assert_eq!(matches!(cfg.positions, Positions::Rope { .. }), llama);
        let g = TrainGraph::build(&cfg, 5).unwrap();
        let (w, ids) = g.initial(3);
        let params: Vec<Vec<f64>> = w.iter().map(|p| p.iter().map(|&x| f64::from(x)).collect()).collect();
        let (_, grads) = reference::gradients(&g, &params, &ids);
        let h = 1e-5;
        for (pi, p) in params.iter().enumerate() {
            // A few elements of every parameter, the first and a middle one.
            for e in [0, p.len() / 2] {
                let at = |delta: f64| {
                    let mut q = params.clone();
                    q[pi][e] += delta;
                    reference::gradients(&g, &q, &ids).0
                };
                let numeric = (at(h) - at(-h)) / (2.0 * h);
                let analytic = grads[pi][e];
                let name = &g.tensors[g.params[pi]].name;
                assert!(
                    (numeric - analytic).abs() <= 1e-6 + 1e-4 * numeric.abs(),
                    "{} {name}[{e}]: analytic {analytic}, numeric {numeric}",
                    cfg.name
                );
            }
        }
    }
}

#[test]
fn the_quick_decoders_loss_falls_over_twenty_steps() {
    for id in ["gpt2-small", "llama-3.2-1b"] {
        let cfg = crate::model::quick(&(crate::model::preset(id).unwrap().config)());
        let g = TrainGraph::build(&cfg, 32).unwrap();
        let (w, ids) = g.initial(1);
        let losses = reference::train(&g, &w, &ids, 20);
        assert!(losses.iter().all(|l| l.is_finite()), "{id}: {losses:?}");
        // Near ln(vocab) at the start; one fixed batch is memorised.
        assert!((losses[0] - (cfg.vocab as f64).ln()).abs() < 1.0, "{id}: {losses:?}");
        assert!(losses[19] < 0.8 * losses[0], "{id}: {losses:?}");
    }
}
