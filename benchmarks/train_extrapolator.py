"""Train the learned extrapolator (a small prior-data fitted network) on synthetic curves.

Seeded and resumable::

    python benchmarks/train_extrapolator.py            # trains, then writes the package's weights

The shipped weights were made by a run whose schedule was shortened once, after its step-1000
checkpoint, to fit the time available on the shared machine; to reproduce them exactly::

    python benchmarks/train_extrapolator.py --steps 8000 --stop-after 1000
    python benchmarks/train_extrapolator.py --steps 6000   # resumes at step 1000

Curves come from :mod:`scalinglab.fitting._curve_prior` (batch ``i`` is drawn from
``numpy.random.default_rng([seed, i])``, so a resumed run sees the same data); the network
is a pre-LN transformer whose context tokens attend to each other and whose query tokens
attend to the context only (Müller et al. 2022; Adriaensen et al. 2023), trained by the
Gaussian negative log-likelihood of the normalised ``ln y`` (encoding 2 of
:mod:`scalinglab.fitting._learned` by default: the trend of the context's last half is an
input) of the held-back part of each curve (up to 12 points beyond the context and 4 interior points removed from it). Torch runs with one thread (the machine is shared); a checkpoint is written every
``--ckpt-every`` steps to ``--work`` and a run restarts from it. At the end the weights are
exported, float32, to ``src/scalinglab/data/extrapolator.npz``, which
:mod:`scalinglab.fitting._learned` reads with numpy alone.

Logged to ``<work>/log.csv``: step, wall seconds, mean training loss since the last line,
and, every ``--eval-every`` steps, the loss and RMSLE (in ``ln y``) on 256 fixed validation
curves.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from scalinglab.fitting._curve_prior import sample_curve
from scalinglab.fitting._learned import (
    ENCODERS,
    MAX_CONTEXT,
    N_GLOBAL,
    N_GLOBAL_V1,
    N_TOKEN,
    N_TOKEN_V1,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "src" / "scalinglab" / "data" / "extrapolator.npz"
MAX_TARGET = 12
#: Interior context points held out as extra targets, so the network also learns the curve inside its range.
N_INSIDE = 4
V_CLIP = 60.0
#: Token width of each input encoding of ``scalinglab.fitting._learned`` (``--encoding``).
N_INPUT = {1: N_TOKEN_V1 + N_GLOBAL_V1, 2: N_TOKEN + N_GLOBAL}


class Block(nn.Module):
    def __init__(self, d: int, n_heads: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, n_heads, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, h: torch.Tensor, n_ctx: int, pad: torch.Tensor) -> torch.Tensor:
        a = self.ln1(h)
        c = a[:, :n_ctx]
        h = h + self.attn(a, c, c, key_padding_mask=pad, need_weights=False)[0]
        return h + self.mlp(self.ln2(h))


class PFN(nn.Module):
    def __init__(self, d: int, n_layers: int, n_heads: int, encoding: int = 2, gate: bool = False) -> None:
        super().__init__()
        n_in = N_INPUT[encoding]
        self.embed = nn.Sequential(nn.Linear(n_in, d), nn.GELU(), nn.Linear(d, d))
        self.layers = nn.ModuleList([Block(d, n_heads) for _ in range(n_layers)])
        self.head_ln = nn.LayerNorm(d)
        # Encoding 2 adds a third output: the gate on the trend (see scalinglab.fitting._learned).
        self.head = nn.Linear(d, 3 if encoding == 2 and gate else 2)

    def forward(
        self, ctx: torch.Tensor, qry: torch.Tensor, pad: torch.Tensor, base: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of ``v`` per query (``base``: the trend at the queries)."""
        n_ctx = ctx.shape[1]
        h = self.embed(torch.cat([ctx, qry], 1))
        for layer in self.layers:
            h = layer(h, n_ctx, pad)
        out = self.head(self.head_ln(h[:, n_ctx:]))
        mean = out[..., 0]
        if out.shape[-1] == 3 and base is not None:
            mean = mean + torch.sigmoid(out[..., 2]) * base
        return mean, nn.functional.softplus(out[..., 1]) + 1e-3


def make_batch(rng: np.random.Generator, size: int, encoding: int = 2) -> dict[str, torch.Tensor]:
    """``size`` prior curves, encoded and padded: context, queries, targets and masks."""
    encs, targets = [], []
    for _ in range(size):
        c = sample_curve(rng, max_target=MAX_TARGET)
        xc, yc, xt, yt = c.x_context, c.y_context, c.x_target, c.y_target
        n_in = min(N_INSIDE, (len(xc) - 4) // 2)
        if n_in > 0:  # interior points held out of the context: the curve inside its range
            out = rng.choice(np.arange(1, len(xc) - 1), n_in, replace=False)
            keep = np.ones(len(xc), bool)
            keep[out] = False
            xt, yt = np.concatenate([xc[out], xt]), np.concatenate([yc[out], yt])
            xc, yc = xc[keep], yc[keep]
        e = ENCODERS[encoding](xc, yc, xt, c.eps0)
        encs.append(e)
        targets.append(np.clip((np.log(yt) - e.center) / e.scale, -V_CLIP, V_CLIP))
    n_c = max(len(e.context) for e in encs)
    n_q = max(len(e.query) for e in encs)
    f = N_INPUT[encoding]
    ctx = np.zeros((size, n_c, f), np.float32)
    qry = np.zeros((size, n_q, f), np.float32)
    tgt = np.zeros((size, n_q), np.float32)
    pad = np.ones((size, n_c), bool)
    qmask = np.zeros((size, n_q), np.float32)
    scale = np.zeros(size, np.float32)
    base = np.zeros((size, n_q), np.float32)
    for i, (e, t) in enumerate(zip(encs, targets, strict=True)):
        ctx[i, : len(e.context)] = e.context
        pad[i, : len(e.context)] = False
        qry[i, : len(e.query)] = e.query
        tgt[i, : len(t)] = t
        qmask[i, : len(t)] = 1.0
        scale[i] = e.scale
        base[i, : len(t)] = e.base
    return {k: torch.from_numpy(v) for k, v in
            dict(ctx=ctx, qry=qry, tgt=tgt, pad=pad, qmask=qmask, scale=scale, base=base).items()}


def losses(model: PFN, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean Gaussian NLL per query (normalised units) and per-curve RMSLE (ln y units)."""
    mean, sd = model(b["ctx"], b["qry"], b["pad"], b["base"])
    z = (b["tgt"] - mean) / sd
    nll = (torch.log(sd) + 0.5 * z**2) * b["qmask"]
    per_curve = nll.sum(1) / b["qmask"].sum(1)
    err2 = ((b["tgt"] - mean) * b["scale"][:, None]) ** 2 * b["qmask"]
    rmsle = torch.sqrt(err2.sum(1) / b["qmask"].sum(1))
    return per_curve.mean(), rmsle


def export(model: PFN, args: argparse.Namespace, path: Path, meta: dict[str, object]) -> None:
    arrays = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    arrays["n_layers"] = np.array(args.layers)
    arrays["n_heads"] = np.array(args.heads)
    arrays["encoding"] = np.array(args.encoding)
    arrays["meta"] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=8000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--d-model", type=int, default=96)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--encoding", type=int, default=2, choices=sorted(ENCODERS),
                   help="input encoding (1: the first network's, 2: with the trend of the last half)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ckpt-every", type=int, default=100)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--work", type=Path, default=ROOT / "benchmarks" / ".train_extrapolator")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--time-steps", type=int, default=0, help="only time this many steps and exit")
    p.add_argument("--trend-gate", action="store_true",
                   help="encoding 2 with a gated trend added to the output (default: the trend is an input only)")
    p.add_argument("--snapshot-at", type=int, nargs="*", default=[200],
                   help="also keep the checkpoint of these steps as <work>/ckpt_<step>.pt (to check a rerun)")
    p.add_argument("--stop-after", type=int, default=0,
                   help="stop after this step's checkpoint without exporting (a partial run, resumable)")
    p.add_argument("--export-only", action="store_true", help="export the last checkpoint to --out and exit")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = PFN(args.d_model, args.layers, args.heads, args.encoding, args.trend_gate)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)

    def lr_at(step: int) -> float:
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        prog = (step - args.warmup) / max(args.steps - args.warmup, 1)
        return args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(prog, 1.0))))

    if args.time_steps:
        t0 = time.perf_counter()
        tg = 0.0
        for i in range(args.time_steps):
            s = time.perf_counter()
            b = make_batch(np.random.default_rng([args.seed, i]), args.batch, args.encoding)
            tg += time.perf_counter() - s
            loss, _ = losses(model, b)
            opt.zero_grad()
            loss.backward()
            opt.step()
        dt = (time.perf_counter() - t0) / args.time_steps
        print(f"{dt * 1000:.0f} ms/step ({tg / args.time_steps * 1000:.0f} ms of it data), "
              f"{sum(q.numel() for q in model.parameters())} parameters")
        return 0

    args.work.mkdir(parents=True, exist_ok=True)
    ckpt = args.work / "ckpt.pt"
    log = args.work / "log.csv"
    step, wall = 0, 0.0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, wall = state["step"], state["wall"]
        print(f"resumed at step {step}")
        if args.export_only:
            export(model, args, args.out, {"seed": args.seed, "steps": step, "checkpoint": True})
            print(f"wrote {args.out} from the checkpoint at step {step}")
            return 0
    else:
        log.write_text("step,wall_s,lr,train_nll,val_nll,val_rmsle\n")
    val = make_batch(np.random.default_rng([args.seed, 10**9]), 256, args.encoding)
    run_sum, run_n, t_last = 0.0, 0, time.perf_counter()
    while step < args.steps:
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        model.train()
        b = make_batch(np.random.default_rng([args.seed, step]), args.batch, args.encoding)
        loss, _ = losses(model, b)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        run_sum, run_n = run_sum + loss.item(), run_n + 1
        step += 1
        now = time.perf_counter()
        wall, t_last = wall + now - t_last, now
        if step % args.eval_every == 0 or step == args.steps:
            model.eval()
            with torch.no_grad():
                v_nll, v_rmsle = losses(model, val)
            with log.open("a") as fh:
                fh.write(f"{step},{wall:.1f},{lr_at(step - 1):.2e},{run_sum / run_n:.4f},"
                         f"{float(v_nll):.4f},{float(v_rmsle.mean()):.5f}\n")
            run_sum, run_n = 0.0, 0
        if step % args.ckpt_every == 0 or step == args.steps:
            state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "wall": wall}
            torch.save(state, ckpt)
            if step in args.snapshot_at:
                torch.save(state, args.work / f"ckpt_{step}.pt")
            if args.stop_after and step >= args.stop_after:
                print(f"stopped after step {step}; rerun to resume")
                return 0
            t_last = time.perf_counter()
    meta = {"seed": args.seed, "steps": args.steps, "batch": args.batch, "d_model": args.d_model,
            "layers": args.layers, "heads": args.heads, "encoding": args.encoding, "lr": args.lr, "train_wall_s": round(wall, 1),
            "max_context": MAX_CONTEXT}
    export(model, args, args.out, meta)
    print(f"wrote {args.out} after {step} steps, {wall:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
