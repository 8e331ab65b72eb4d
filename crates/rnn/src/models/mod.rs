//! Complete models built from the library's pieces.
//!
//! - [`char_lm`]: a character-level language model (embedding or one-hot → deep RNN/LSTM/GRU → dense →
//!   softmax), trained with truncated BPTT; the model behind the `rnn` command-line tool.
//! - [`char_beam`]: beam search for the character model (the most probable continuations of a prime).
//! - [`classifier`]: a sequence classifier, regressor or tagger over any stack, with padded batches
//!   (masked recurrence) and a readout (last state, mean, max, or every step).
//! - [`seq2seq`]: an encoder-decoder over any stack, with optional Bahdanau attention, teacher forcing,
//!   greedy decoding and beam search.

pub mod char_beam;
pub mod char_lm;
pub mod classifier;
mod classifier_io;
mod readout;
pub mod seq2seq;
