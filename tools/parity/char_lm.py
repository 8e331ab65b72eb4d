#!/usr/bin/env python3
"""The course's character model (`rnn::models::char_lm::CharLm`, what `rnn train` saves) in PyTorch.

    python tools/parity/char_lm.py make                      # PyTorch -> the library: writes fixtures
    python tools/parity/char_lm.py check CKPT [--text FILE]  # the library -> PyTorch: loads a checkpoint
    python tools/parity/char_lm.py check CKPT --write DATA   # ... and writes PyTorch's logits on its text

The library names a character model's tensors as PyTorch's `word_language_model` example names its
modules: `encoder` (an `nn.Embedding`, absent for one-hot input), `rnn` (an `nn.RNN`, `nn.LSTM` or `nn.GRU`,
time-major) and `decoder` (an `nn.Linear` from H to the vocabulary). The checkpoint's metadata holds the rest
as JSON under "config": {"model": {"cell", "vocab" (the characters in id order), "embedding_dim" (0 for
one-hot), "hidden_size", "num_layers", "dropout"}}. `CharModel` below is that network in PyTorch, so a
checkpoint loads with `load_state_dict(strict=True)`: every name and shape must match, nothing missing,
nothing extra (the optimiser state `optim.*` and the carried states `state.*` that `rnn train` also stores
are set aside first).

`make` builds two such models in PyTorch (seeded; an LSTM with an embedding, a one-hot GRU), saves their
`state_dict()` with the config in the library's format, and stores their logits, final states and mean
loss on a fixed text: `tests/char_lm_parity.rs` loads the weights with `CharLm::load` and requires the
library's numbers to agree to 1e-10.

`check` goes the other way: it loads a checkpoint written by the library, runs it on a text (by default the
fixture text) and prints the mean loss in nats per character. With `--write DATA` it also stores PyTorch's
logits, which is how `tests/fixtures/char_lm_ours.torch.safetensors` was made from the library's
`char_lm_ours.weights.safetensors` (see tools/parity/README.md).
"""

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
# The text every fixture is computed on (also in tests/char_lm_parity.rs).
TEXT = "the quick brown fox jumps over the lazy dog; then the dog sleeps."


# ANCHOR: char_model
class CharModel(torch.nn.Module):
    """`CharLm` in PyTorch: the same modules under the same names, time-major like the library."""

    def __init__(self, model):
        super().__init__()
        vocab_size = len(model["vocab"])
        embedding_dim = int(model["embedding_dim"])
        hidden_size = int(model["hidden_size"])
        # One-hot input (embedding_dim 0) has no table: the cell reads the V columns directly.
        self.encoder = torch.nn.Embedding(vocab_size, embedding_dim) if embedding_dim > 0 else None
        self.vocab_size = vocab_size
        rnn = dict(
            input_size=embedding_dim or vocab_size,
            hidden_size=hidden_size,
            num_layers=int(model.get("num_layers", 1)),
            dropout=float(model.get("dropout", 0.0)),
        )
        cell = model["cell"]
        if cell == "lstm":
            self.rnn = torch.nn.LSTM(**rnn)
        elif cell == "gru":
            self.rnn = torch.nn.GRU(**rnn)
        elif cell in ("rnn_tanh", "rnn_relu", "rnn"):
            self.rnn = torch.nn.RNN(nonlinearity="relu" if cell == "rnn_relu" else "tanh", **rnn)
        else:
            raise ValueError(f"unknown cell {cell!r}")
        self.decoder = torch.nn.Linear(hidden_size, vocab_size)

    def forward(self, ids, state=None):
        """ids (T, B) of character ids -> logits (T, B, V) and the final state."""
        if self.encoder is not None:
            x = self.encoder(ids)  # (T, B, E)
        else:
            x = F.one_hot(ids, self.vocab_size).to(torch.float64)  # (T, B, V)
        out, state = self.rnn(x, state)  # (T, B, H)
        return self.decoder(out), state
# ANCHOR_END: char_model


def read_model_config(path):
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    try:
        model = json.loads(meta["config"])["model"]
    except (KeyError, TypeError, json.JSONDecodeError):
        sys.exit(f"{path}: not a character-model checkpoint (no 'model' in the 'config' metadata)")
    variant = set(model.get("variant", {})) if isinstance(model.get("variant"), dict) else set()
    if variant:
        sys.exit(f"{path}: the cell has the library's variant options {sorted(variant)}: PyTorch has no such cell")
    return model


# ANCHOR: load
def load(path):
    """A checkpoint written by the library (`CharLm::save`, `rnn train`) as a PyTorch model, strictly."""
    model = read_model_config(path)
    state = load_file(str(path))
    # `rnn train` also stores the optimiser's moments and the carried states: not part of the model.
    state = {k: v for k, v in state.items() if not k.startswith(("optim.", "state."))}
    net = CharModel(model).to(torch.float64)
    net.load_state_dict(state, strict=True)
    return net.eval(), model["vocab"]
# ANCHOR_END: load


def encode(text, vocab):
    index = {c: i for i, c in enumerate(vocab)}
    missing = sorted(set(text) - set(index))
    if missing:
        sys.exit(f"the text has characters the model does not know: {missing!r}")
    return torch.tensor([index[c] for c in text], dtype=torch.int64)


def run(net, ids):
    """Logits (T, V) for reading ids[0..T], the final state, and the mean loss of predicting ids[1..]."""
    with torch.no_grad():
        logits, state = net(ids.view(-1, 1))  # (T, 1, V)
        logits = logits[:, 0, :]
        nats = F.cross_entropy(logits[:-1], ids[1:]).item()
    return logits, state, nats


def state_tensors(state):
    if isinstance(state, tuple):  # LSTM
        return {"h_n": state[0][:, 0, :].contiguous(), "c_n": state[1][:, 0, :].contiguous()}
    return {"h_n": state[:, 0, :].contiguous()}


def make():
    configs = {
        "char_lm_torch_lstm": dict(cell="lstm", embedding_dim=5, hidden_size=6, num_layers=2, seed=2012),
        "char_lm_torch_gru": dict(cell="gru", embedding_dim=0, hidden_size=5, num_layers=1, seed=2014),
    }
    vocab = sorted(set(TEXT))
    for name, c in configs.items():
        torch.manual_seed(c["seed"])
        model = dict(
            cell=c["cell"],
            vocab=vocab,
            embedding_dim=c["embedding_dim"],
            hidden_size=c["hidden_size"],
            num_layers=c["num_layers"],
            dropout=0.0,
        )
        net = CharModel(model).to(torch.float64).eval()
        with torch.no_grad():  # biases away from PyTorch's small uniform, so a dropped one shows up
            for k, p in net.named_parameters():
                if "bias" in k:
                    p.add_(0.5 * torch.randn_like(p))
        meta = {"config": json.dumps({"model": model}, ensure_ascii=False)}
        weights = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
        save_file(weights, str(FIXTURES / f"{name}.weights.safetensors"), metadata=meta)
        ids = encode(TEXT, vocab)
        logits, state, nats = run(net, ids)
        data = {"ids": ids, "logits": logits.contiguous(), "nats": torch.tensor([nats], dtype=torch.float64)}
        data.update(state_tensors(state))
        save_file(data, str(FIXTURES / f"{name}.data.safetensors"), metadata={"torch": torch.__version__})
        print(f"{name}: {len(weights)} tensors, loss on the fixture text {nats:.12f} nats/char")


def check(args):
    net, vocab = load(args.checkpoint)
    text = Path(args.text).read_text(encoding="utf-8") if args.text else TEXT
    ids = encode(text, vocab)
    logits, state, nats = run(net, ids)
    print(f"loaded {args.checkpoint} into PyTorch {torch.__version__} with load_state_dict(strict=True)")
    print(f"{len(ids)} characters, mean loss {nats:.12f} nats/char")
    if args.write:
        data = {"ids": ids, "logits": logits.contiguous(), "nats": torch.tensor([nats], dtype=torch.float64)}
        data.update(state_tensors(state))
        save_file(data, args.write, metadata={"torch": torch.__version__})
        print(f"wrote {args.write}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("make", help="write the PyTorch-made fixtures tests/fixtures/char_lm_torch_*")
    c = sub.add_parser("check", help="load a library checkpoint into PyTorch and score a text")
    c.add_argument("checkpoint", help="a checkpoint written by CharLm::save or rnn train")
    c.add_argument("--text", help="a UTF-8 text file to score (default: the fixture text)")
    c.add_argument("--write", help="write PyTorch's ids, logits, final states and loss to this file")
    args = parser.parse_args()
    torch.set_default_dtype(torch.float64)
    make() if args.command == "make" else check(args)


if __name__ == "__main__":
    main()
