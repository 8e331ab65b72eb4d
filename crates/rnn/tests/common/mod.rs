//! Small random seq2seq models shared by the decoding and sampling tests.

use rnn::cells::CellKind;
use rnn::models::seq2seq::{Seq2Seq, Seq2SeqConfig};
use rnn::params::Parameters;

/// 3 symbols + the 4 specials.
pub const V: usize = 7;

/// A small random model, its weights scaled up so that its distributions are far from uniform.
pub fn model(kind: CellKind, bi: bool, att: bool, seed: u64) -> Seq2Seq {
    let cfg = Seq2SeqConfig::new(kind, V, V, 3, 4)
        .bidirectional(bi)
        .attention(att.then_some(3));
    let mut m = Seq2Seq::new(&cfg, &mut rnn::init::rng(seed)).unwrap();
    for (_, mut p) in m.params_mut() {
        p *= 2.0;
    }
    m
}

/// Every cell, with a plain encoder and with a bidirectional one and attention.
pub fn cases() -> Vec<Seq2Seq> {
    let mut out = Vec::new();
    for (i, kind) in [CellKind::RnnTanh, CellKind::Lstm, CellKind::Gru]
        .into_iter()
        .enumerate()
    {
        out.push(model(kind, false, false, i as u64));
        out.push(model(kind, true, true, 10 + i as u64));
    }
    out
}
