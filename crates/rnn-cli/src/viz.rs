//! `rnn viz`: what did the neurons learn? (after Karpathy, Johnson & Fei-Fei 2015, "Visualizing and
//! Understanding Recurrent Networks").
//!
//! Runs a trained model over a text, records every hidden unit (h; or the LSTM cell state c; or a gate of
//! an LSTM or GRU) after each character, and writes an HTML page: each character's background shows one unit's value (blue for -1,
//! white for 0, red for +1), for the unit you choose and for the units that best track simple features of
//! the text: "inside quotes", "position in line", "inside parentheses", "inside a word". A table lists, for
//! each feature, the units most correlated with it (Pearson correlation over the text).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use rnn::cells::AnyCache;
use rnn::viz::{activation_colour as colour, pearson, text_features as features};

use crate::ckpt;

/// Flags of `rnn viz`.
#[derive(clap::Args)]
pub struct VizArgs {
    /// Checkpoint of a trained model.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Text file to run the model over (its first --chars characters are used).
    #[arg(long, conflicts_with = "text")]
    data: Option<PathBuf>,
    /// Text to run the model over, given on the command line.
    #[arg(long)]
    text: Option<String>,
    /// How many characters of --data to use.
    #[arg(long, default_value_t = 2000)]
    chars: usize,
    /// Layer to look at (0 = bottom; default: the top layer).
    #[arg(long)]
    layer: Option<usize>,
    /// Unit to colour the text by (default: the unit most correlated with the first feature present).
    #[arg(long)]
    unit: Option<usize>,
    /// What to colour by: h (hidden state); c (LSTM cell state, as tanh c); an LSTM gate i, f, g, o or a
    /// GRU gate r, z, n (sigmoid gates shown as 2σ-1, so 0 is blue and 1 is red).
    #[arg(long, default_value = "h")]
    state: String,
    /// Output HTML file.
    #[arg(long, default_value = "viz.html")]
    out: PathBuf,
}

fn escape(c: char) -> String {
    match c {
        '<' => "&lt;".into(),
        '>' => "&gt;".into(),
        '&' => "&amp;".into(),
        '"' => "&quot;".into(),
        '\n' => "↵<br>".into(),
        ' ' => "&nbsp;".into(),
        c => c.to_string(),
    }
}

pub fn run(a: VizArgs) -> Result<()> {
    let model = ckpt::load_model(&a.checkpoint)?;
    let text: String = match (&a.data, &a.text) {
        (Some(p), _) => crate::text::read_text(p)?.chars().take(a.chars).collect(),
        (None, Some(t)) => t.clone(),
        (None, None) => bail!("give a text: --data FILE or --text \"...\""),
    };
    if text.is_empty() {
        bail!("the text to visualise is empty");
    }
    let layers = model.config.num_layers;
    let layer = a.layer.unwrap_or(layers - 1);
    if layer >= layers {
        bail!(
            "--layer {layer} does not exist: the model has {layers} layer(s), 0 to {}",
            layers - 1
        );
    }
    let kind = model.config.cell_kind()?;
    let which = a.state.as_str();
    let valid: &[&str] = match kind {
        rnn::cells::CellKind::Lstm => &["h", "c", "i", "f", "g", "o"],
        rnn::cells::CellKind::Gru => &["h", "r", "z", "n"],
        _ => &["h"],
    };
    if !valid.contains(&which) {
        bail!(
            "--state {which} is not available for a `{}` model: choose one of {}",
            model.config.cell,
            valid.join(", ")
        );
    }
    let trace = model.trace_steps(&text).context("the text to visualise")?;
    let hidden = model.config.hidden_size;
    if let Some(u) = a.unit {
        if u >= hidden {
            bail!(
                "--unit {u} does not exist: the layer has {hidden} units, 0 to {}",
                hidden - 1
            );
        }
    }
    // acts[u][t], scaled to [-1, 1] for colouring: tanh(c) for the cell state, 2σ-1 for sigmoid gates
    let value = |state: &rnn::cells::State, cache: &AnyCache, u: usize| -> f64 {
        let gate = |g: &ndarray::Array2<f64>| 2.0 * g[[0, u]] - 1.0;
        match (which, cache) {
            ("c", _) => state.c.as_ref().map_or(0.0, |c| c[[0, u]].tanh()),
            ("i", AnyCache::Lstm(k)) => gate(&k.i),
            ("f", AnyCache::Lstm(k)) => gate(&k.f),
            ("o", AnyCache::Lstm(k)) => gate(&k.o),
            ("g", AnyCache::Lstm(k)) => k.g[[0, u]],
            ("r", AnyCache::Gru(k)) => gate(&k.r),
            ("z", AnyCache::Gru(k)) => gate(&k.z),
            ("n", AnyCache::Gru(k)) => k.n[[0, u]],
            _ => state.h[[0, u]],
        }
    };
    let acts: Vec<Vec<f64>> = (0..hidden)
        .map(|u| {
            trace
                .iter()
                .map(|layers| {
                    let (state, cache) = &layers[layer];
                    value(state, cache, u)
                })
                .collect()
        })
        .collect();
    let chars: Vec<char> = text.chars().collect();
    let feats = features(&chars);
    let mut table = String::new();
    let mut shown: Vec<(String, usize)> = Vec::new();
    println!(
        "units most correlated with simple features (layer {layer}, state {}):",
        a.state
    );
    for (name, f) in &feats {
        let mut corr: Vec<(usize, f64)> = (0..hidden)
            .filter_map(|u| pearson(&acts[u], f).map(|r| (u, r)))
            .collect();
        if corr.is_empty() {
            println!("  {name:<20} (not present in this text)");
            let _ = writeln!(
                table,
                "<tr><td>{name}</td><td>not present in this text</td></tr>"
            );
            continue;
        }
        corr.sort_by(|x, y| y.1.abs().total_cmp(&x.1.abs()));
        let top: Vec<String> = corr
            .iter()
            .take(5)
            .map(|(u, r)| format!("unit {u} ({r:+.2})"))
            .collect();
        println!("  {name:<20} {}", top.join(", "));
        let _ = writeln!(table, "<tr><td>{name}</td><td>{}</td></tr>", top.join(", "));
        shown.push((
            format!(
                "unit {} — best match for “{name}” (r = {:+.2})",
                corr[0].0, corr[0].1
            ),
            corr[0].0,
        ));
    }
    let chosen = a.unit.or(shown.first().map(|s| s.1)).unwrap_or(0);
    let mut blocks = vec![(format!("unit {chosen} (chosen)"), chosen)];
    blocks.extend(shown.into_iter().filter(|(_, u)| a.unit != Some(*u)));
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>rnn viz</title><style>\
         body{{font-family:sans-serif;max-width:60em;margin:2em auto}}\
         .t{{font-family:monospace;line-height:1.5;border:1px solid #ccc;padding:.5em}}\
         td{{padding:.2em .8em}}</style></head><body>\
         <h1>What the neurons track</h1><p>Model: {} {}×{}, checkpoint <code>{}</code>; layer {layer}, state {}. \
         Each character's background is the unit's value after reading it: \
         <span style=\"background:{}\">−1</span> … 0 … <span style=\"background:{}\">+1</span>.</p>\
         <h2>Units most correlated with simple features</h2><table>{table}</table>",
        model.config.cell,
        hidden,
        layers,
        a.checkpoint.display(),
        a.state,
        colour(-1.0),
        colour(1.0)
    );
    for (title, u) in blocks {
        let _ = write!(html, "<h2>{title}</h2><div class=\"t\">");
        for (t, &c) in chars.iter().enumerate() {
            let v = acts[u][t];
            let _ = write!(
                html,
                "<span style=\"background:{}\" title=\"{v:+.3}\">{}</span>",
                colour(v),
                escape(c)
            );
        }
        html.push_str("</div>");
    }
    html.push_str("</body></html>\n");
    rnn::files::write_atomic(&a.out, html.as_bytes())?;
    println!("wrote {}", a.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_and_correlation() {
        let text: Vec<char> = "ab \"cd\" (e)\nf “g” h".chars().collect();
        let f = features(&text);
        assert_eq!(f[0].1[3], 1.0); // the opening quote
        assert_eq!(f[0].1[1], 0.0);
        assert_eq!(f[2].1[9], 1.0); // 'e' inside parentheses
        assert_eq!(f[1].1[12], 0.0); // 'f' starts a line
        assert_eq!((f[0].1[15], f[0].1[16], f[0].1[18]), (1.0, 1.0, 0.0)); // “g” quoted, h not
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!(pearson(&[1.0, 1.0], &[0.0, 1.0]).is_none());
    }
}
