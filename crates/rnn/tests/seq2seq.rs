//! The encoder-decoder (`rnn::models::seq2seq`): finite-difference checks of every parameter tensor for
//! every cell, with and without attention, with a uni- and a bidirectional encoder, on padded batches of
//! different lengths; pads that change nothing; attention weights that are distributions over the real
//! source positions; and checkpoints that round-trip and refuse another model.

use ndarray::Array2;
use rand::Rng as _;
use rnn::cells::CellKind;
use rnn::gradcheck::{check_params, TOLERANCE};
use rnn::models::seq2seq::tokens::{Seq2SeqBatch, PAD};
use rnn::models::seq2seq::{Seq2Seq, Seq2SeqConfig};
use rnn::params::Parameters;

const KINDS: [CellKind; 3] = [CellKind::RnnTanh, CellKind::Lstm, CellKind::Gru];
const V_SRC: usize = 7;
const V_TGT: usize = 6;

/// Random sequences of symbols (ids 4..v) with these lengths.
fn seqs(lengths: &[usize], v: usize, rng: &mut rnn::init::Rng) -> Vec<Vec<usize>> {
    lengths
        .iter()
        .map(|&n| (0..n).map(|_| rng.random_range(4..v)).collect())
        .collect()
}

/// A batch of 3 with source lengths 4, 2, 3 and target lengths 1, 3, 0 (so 2, 4, 1 decoder steps).
fn batch(rng: &mut rnn::init::Rng) -> Seq2SeqBatch {
    let src = seqs(&[4, 2, 3], V_SRC, rng);
    let tgt = seqs(&[1, 3, 0], V_TGT, rng);
    Seq2SeqBatch::new(&src, &tgt)
}

fn config(kind: CellKind, bidirectional: bool, attention: bool, layers: usize) -> Seq2SeqConfig {
    Seq2SeqConfig::new(kind, V_SRC, V_TGT, 3, 3)
        .layers(layers)
        .bidirectional(bidirectional)
        .attention(attention.then_some(4))
}

/// The model with its attention and output weights scaled up. The gradient reaching the query's
/// projection is Σ_s ∂L/∂u_s with ∂L/∂u_s = (1 - u_s²) ⊙ v ∂L/∂e_s, and Σ_s ∂L/∂e_s = 0 (a softmax's
/// gradient sums to zero): it is non-zero only through the differences of (1 - u_s²) between source
/// positions. At PyTorch's initialisation those are small, the gradients of `attention.query.*` are
/// around 1e-6, and the finite differences' rounding noise (about 1e-11) alone is then a relative error
/// of 1e-5. Larger attention weights spread the u_s apart, and larger decoder weights make the query
/// larger, so the check measures the backward pass and not the noise.
fn sharpen(mut m: Seq2Seq) -> Seq2Seq {
    if let Some(a) = &mut m.attention {
        a.query.weight *= 12.0;
        a.query.bias *= 6.0;
        a.key *= 12.0;
        a.v *= 3.0;
    }
    m.out.weight *= 3.0;
    // a larger query s_{t-1} (the top layer's state) too: ∂L/∂W_q = Σ_b ∂L/∂(W_q q) qᵀ
    for (_, mut p) in m.decoder.params_mut() {
        p *= 3.0;
    }
    m
}

#[test]
fn every_parameter_matches_finite_differences() {
    let mut worst = 0.0f64;
    let mut cases = Vec::new();
    for kind in KINDS {
        for bi in [false, true] {
            for att in [false, true] {
                cases.push((kind, bi, att, 1));
            }
        }
        // two layers: a bridge map per layer, the query from the top layer. (A 2-layer LSTM's top
        // state is small at initialisation, so its ∂L/∂W_q = Σ ∂L/∂(W_q q) qᵀ is down near the
        // rounding noise of the finite differences, 2e-7 relative; it is checked without attention.)
        cases.push((kind, true, kind != CellKind::Lstm, 2));
    }
    for (kind, bi, att, layers) in cases {
        let mut rng = rnn::init::rng(3);
        let model = sharpen(Seq2Seq::new(&config(kind, bi, att, layers), &mut rng).unwrap());
        let batch = batch(&mut rng);
        let (_, grads) = model.loss_and_grads(&batch);
        let report = check_params(&model, &grads, |m| m.loss_and_grads(&batch).0);
        assert_eq!(report.tensors.len(), model.params().len());
        let e = report.max_rel_error();
        println!("{kind} bidirectional={bi} attention={att} layers={layers}: {e:e}");
        worst = worst.max(e);
        report.assert_below(TOLERANCE);
    }
    println!("worst relative error over all cases: {worst:e}");
}

#[test]
fn pads_change_nothing() {
    for kind in KINDS {
        for (bi, att) in [(false, false), (true, true), (false, true)] {
            let mut rng = rnn::init::rng(9);
            let model = Seq2Seq::new(&config(kind, bi, att, 1), &mut rng).unwrap();
            let b = batch(&mut rng);
            let (loss, grads) = model.loss_and_grads(&b);
            // other ids in every padded position, and one more padded step everywhere
            let mut garbage = rnn::init::rng(1);
            let mut other = b.clone();
            let pad_more = |a: &Array2<usize>| {
                let (t, n) = a.dim();
                let mut out = Array2::from_elem((t + 1, n), PAD);
                out.slice_mut(ndarray::s![..t, ..]).assign(a);
                out
            };
            other.src = pad_more(&other.src);
            other.tgt_in = pad_more(&other.tgt_in);
            other.tgt_out = pad_more(&other.tgt_out);
            for (a, lengths, v) in [
                (&mut other.src, &b.src_lengths, V_SRC),
                (&mut other.tgt_in, &b.tgt_lengths, V_TGT),
                (&mut other.tgt_out, &b.tgt_lengths, V_TGT),
            ] {
                for (col, &n) in lengths.iter().enumerate() {
                    for t in n..a.nrows() {
                        a[[t, col]] = garbage.random_range(0..v);
                    }
                }
            }
            assert_ne!(other.src.slice(ndarray::s![..b.src.nrows(), ..]), b.src);
            let (loss2, grads2) = model.loss_and_grads(&other);
            assert_eq!(loss, loss2, "{kind} {bi} {att}: the loss changed");
            for ((n, g), (_, g2)) in grads.params().iter().zip(grads2.params()) {
                assert_eq!(g, &g2, "{kind} {bi} {att}: the gradient of {n} changed");
            }
        }
    }
}

#[test]
fn attention_weights_are_distributions_over_real_source_steps() {
    let mut rng = rnn::init::rng(2);
    let model = Seq2Seq::new(&config(CellKind::Gru, true, true, 1), &mut rng).unwrap();
    let b = batch(&mut rng);
    let (_, cache) = model.forward(&b);
    let alpha = cache.attention().expect("attention");
    let (t_tgt, bsz, t_src) = alpha.dim();
    assert_eq!((t_tgt, bsz, t_src), (4, 3, 4)); // (T_tgt, B, T_src)
    for t in 0..t_tgt {
        for (j, &n) in b.src_lengths.iter().enumerate() {
            let row = alpha.slice(ndarray::s![t, j, ..]);
            assert!((row.sum() - 1.0).abs() < 1e-12);
            assert!(row.iter().skip(n).all(|&a| a == 0.0), "pads get no weight");
            assert!(row.iter().take(n).all(|&a| a > 0.0));
        }
    }
    let no_att = Seq2Seq::new(&config(CellKind::Gru, true, false, 1), &mut rng).unwrap();
    assert!(no_att.forward(&b).1.attention().is_none());
}

#[test]
fn checkpoints_round_trip_and_refuse_other_models() {
    use rnn::models::seq2seq::tokens::{Split, Vocab};
    let dir = std::env::temp_dir().join(format!("rnn-seq2seq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    let src = Vocab::build(["abc"], Split::Chars);
    let tgt = Vocab::build(["K AE1 T"], Split::Whitespace);
    let cfg = Seq2SeqConfig::new(CellKind::Lstm, src.len(), tgt.len(), 3, 4)
        .layers(2)
        .bidirectional(true)
        .attention(Some(5));
    let model = Seq2Seq::new(&cfg, &mut rnn::init::rng(4)).unwrap();
    model.save(&path, Some((&src, &tgt))).unwrap();
    let (back, vocabs) = Seq2Seq::load(&path).unwrap();
    assert_eq!(back.config(), cfg);
    assert_eq!(vocabs, Some((src.clone(), tgt.clone())));
    for ((n, a), (_, b)) in model.params().iter().zip(back.params()) {
        assert_eq!(a, &b, "{n}");
    }
    let names: Vec<String> = model.params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names[0], "encoder.embedding.weight");
    assert!(names.contains(&"encoder.rnn.weight_hh_l1_reverse".to_string()));
    assert!(names.contains(&"bridge.c_l1.weight".to_string()));
    assert!(names.contains(&"attention.v.weight".to_string()));
    assert_eq!(names[names.len() - 1], "decoder.out.bias");
    assert_eq!(
        model.beam_search(&[4, 5], &rnn::models::seq2seq::BeamConfig::new(3, 5)),
        back.beam_search(&[4, 5], &rnn::models::seq2seq::BeamConfig::new(3, 5))
    );

    // another configuration is refused, with every difference named
    let other = Seq2SeqConfig {
        attention: None,
        hidden_size: 5,
        ..cfg.clone()
    };
    let err = Seq2Seq::load_expecting(&path, &other)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("hidden size") && err.contains("attention"),
        "{err}"
    );
    assert!(Seq2Seq::load_expecting(&path, &cfg).is_ok());

    // a checkpoint whose tensors do not fit its config, and one of another model, are refused
    let wrong = dir.join("wrong.safetensors");
    let small = Seq2Seq::new(&other, &mut rnn::init::rng(4)).unwrap();
    let config = serde_json::json!({ "seq2seq": cfg.to_json() });
    rnn::checkpoint::save_params(&wrong, &small, Some(&config)).unwrap();
    assert!(Seq2Seq::load(&wrong).is_err());
    let rnn_only = dir.join("rnn.safetensors");
    model.encoder.save(&rnn_only).unwrap();
    let err = Seq2Seq::load(&rnn_only).unwrap_err().to_string();
    assert!(err.contains("no seq2seq configuration"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
