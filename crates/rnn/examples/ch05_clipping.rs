//! Chapter 5: clipping by value changes the gradient's direction; clipping by global norm does not.
//!
//! ```console
//! cargo run --release -p rnn --example ch05_clipping
//! ```

use ndarray::array;
use rnn::optim::{clip_by_global_norm, clip_by_value, global_norm};
use rnn::prelude::*;

/// All gradient entries of a model, flattened in the fixed parameter order.
fn flat(g: &Elman) -> Vec<f64> {
    g.params()
        .iter()
        .flat_map(|(_, p)| p.iter().copied().collect::<Vec<_>>())
        .collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn main() {
    // ANCHOR: clip_example
    // A tiny "gradient": an Elman cell with D = 1, H = 1 has four scalar parameters.
    let mut g = Elman::new(1, 1, &mut rnn::init::rng(0)).zeros_like();
    g.weight_ih = array![[12.0]];
    g.weight_hh = array![[-4.0]];
    g.bias_ih = array![0.3];
    g.bias_hh = array![0.3];
    let before = flat(&g);

    let mut by_value = g.clone();
    clip_by_value(&mut by_value, 1.0); // every entry into [-1, 1]

    let mut by_norm = g.clone();
    // the whole vector rescaled to length 1; returns the norm before clipping
    let norm = clip_by_global_norm(&mut by_norm, 1.0);
    // ANCHOR_END: clip_example

    let show = |name: &str, v: &[f64]| {
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        println!(
            "{name:<22} [{}]  norm {n:.4}  cosine with original {:.4}",
            v.iter()
                .map(|x| format!("{x:+.4}"))
                .collect::<Vec<_>>()
                .join(", "),
            cosine(&before, v)
        );
    };
    println!("gradient entries in the order weight_ih, weight_hh, bias_ih, bias_hh\n");
    show("original", &before);
    show("clip_by_value(1)", &flat(&by_value));
    show("clip_by_global_norm(1)", &flat(&by_norm));
    println!("\nglobal norm before clipping (returned by clip_by_global_norm): {norm:.4}");
    println!(
        "global_norm after: by value {:.4}, by norm {:.4}",
        global_norm(&by_value),
        global_norm(&by_norm)
    );
}
