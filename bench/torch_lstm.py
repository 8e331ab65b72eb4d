"""Reference for `rnn bench`: training speed of PyTorch's nn.LSTM in float64 on the same text.

The same model and loop as the LSTM measurements of `rnn bench`: one-hot characters -> nn.LSTM (hidden H,
L layers) -> nn.Linear -> cross-entropy, B = 32 parallel streams, chunks of T = 64 steps with the state
carried between chunks (detached), Adam (lr 2e-3), gradients clipped to global norm 5, float64, on
`--threads` threads, after one untimed warm-up step. Prints `chars/s N` (characters trained per second) and the last loss.

Optional: `rnn bench` runs it only if torch is importable (torch is not a dependency of the course).

    python3 bench/torch_lstm.py --data /work/shared/data/tinyshakespeare.txt --hidden 256 --layers 1
"""

import argparse
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--min-steps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)

    with open(args.data, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    V, B, T = len(chars), args.batch, args.seq_len

    # B contiguous streams; chunk k of every stream is rows k*T .. k*T+T (inputs) and one further (targets)
    per_stream = (len(ids) - 1) // B
    streams = ids[: per_stream * B + 1]
    inputs = streams[:-1].view(B, per_stream).t()  # (steps, B)
    targets = streams[1:].view(B, per_stream).t()
    chunks = per_stream // T

    lstm = torch.nn.LSTM(V, args.hidden, args.layers).double()
    decoder = torch.nn.Linear(args.hidden, V).double()
    params = list(lstm.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=2e-3)
    eye = torch.eye(V, dtype=torch.float64)
    state = None

    def step(k, state):
        x = eye[inputs[k * T : (k + 1) * T]]  # (T, B, V) one-hot
        y = targets[k * T : (k + 1) * T]
        out, state = lstm(x, state)
        state = tuple(s.detach() for s in state)
        logits = decoder(out)  # (T, B, V)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        return loss.item(), state

    # one untimed warm-up step, as `rnn bench` does
    loss_value, state = step(0, state)
    steps = 0
    start = time.perf_counter()
    while steps < args.min_steps or time.perf_counter() - start < args.seconds:
        loss_value, state = step((steps + 1) % chunks, state)
        steps += 1
    elapsed = time.perf_counter() - start
    print(f"loss {loss_value:.4f}")
    print(f"chars/s {steps * B * T / elapsed:.1f}")


if __name__ == "__main__":
    main()
