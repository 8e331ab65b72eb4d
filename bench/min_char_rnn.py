"""Reference for `rnn bench`: the min-char-rnn training loop written with numpy, timed on the same text.

A vanilla RNN with H hidden units reads one-hot characters; each step takes T characters (batch 1), runs
forward and backward through time, clips every gradient entry to [-5, 5] and applies Adagrad (lr 0.1).
The hidden state is carried from one chunk to the next. Prints `chars/s N` (characters trained per second)
and the last loss in nats per character.

    python3 bench/min_char_rnn.py --data /work/shared/data/tinyshakespeare.txt --seconds 5
"""

import argparse
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--hidden", type=int, default=100)
    ap.add_argument("--seq-len", type=int, default=25)
    ap.add_argument("--lr", type=float, default=0.1)
    args = ap.parse_args()

    with open(args.data, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = np.array([index[c] for c in text], dtype=np.int64)
    V, H, T = len(chars), args.hidden, args.seq_len

    rng = np.random.default_rng(1)
    k = 1.0 / np.sqrt(H)
    params = {
        "w_ih": rng.uniform(-k, k, (H, V)),
        "w_hh": rng.uniform(-k, k, (H, H)),
        "b_h": np.zeros(H),
        "w_out": rng.uniform(-k, k, (V, H)),
        "b_out": np.zeros(V),
    }
    sq_sums = {name: np.zeros_like(p) for name, p in params.items()}

    def step(inputs, targets, h0):
        w_ih, w_hh, b_h = params["w_ih"], params["w_hh"], params["b_h"]
        w_out, b_out = params["w_out"], params["b_out"]
        hs, probs = [h0], []
        loss = 0.0
        for t in range(T):
            # one-hot input: W_ih x is a column of W_ih
            h = np.tanh(w_ih[:, inputs[t]] + w_hh @ hs[-1] + b_h)
            z = w_out @ h + b_out
            e = np.exp(z - z.max())
            p = e / e.sum()
            loss -= np.log(p[targets[t]])
            hs.append(h)
            probs.append(p)
        grads = {name: np.zeros_like(p) for name, p in params.items()}
        dh_next = np.zeros(H)
        for t in reversed(range(T)):
            dz = probs[t].copy()
            dz[targets[t]] -= 1.0
            grads["w_out"] += np.outer(dz, hs[t + 1])
            grads["b_out"] += dz
            dh = w_out.T @ dz + dh_next
            da = (1.0 - hs[t + 1] ** 2) * dh
            grads["w_ih"][:, inputs[t]] += da
            grads["w_hh"] += np.outer(da, hs[t])
            grads["b_h"] += da
            dh_next = w_hh.T @ da
        return loss / T, grads, hs[-1]

    h = np.zeros(H)
    pos, n_chars, loss = 0, 0, float("nan")
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        if pos + T + 1 > len(ids):
            pos, h = 0, np.zeros(H)
        inputs, targets = ids[pos : pos + T], ids[pos + 1 : pos + T + 1]
        loss, grads, h = step(inputs, targets, h)
        for name, p in params.items():
            g = np.clip(grads[name], -5.0, 5.0)
            sq_sums[name] += g * g
            p -= args.lr * g / np.sqrt(sq_sums[name] + 1e-8)
        pos += T
        n_chars += T
    elapsed = time.perf_counter() - start
    print(f"loss {loss:.4f}")
    print(f"chars/s {n_chars / elapsed:.1f}")


if __name__ == "__main__":
    main()
