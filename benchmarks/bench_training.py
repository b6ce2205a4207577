"""Training throughput of the U-Nets on this CPU: float32 vs bfloat16 autocast, and the
cost of the Jacobian penalty (paper, Eq. 2.2) on all or a subset of each batch.

"channels-last" variants feed the network and its weights in the channels-last layout
(what the training loop does on CUDA), the others the contiguous layout (the loop's on
the CPU).

Times one training step (prbench.train.losses.objective, backward, AdamW) on random
72 x 72 measurements of 36 x 36 objects, batch 64, one torch thread. The variants are
interleaved in blocks (``--blocks`` rounds, ``--steps`` steps per block and variant) so
that a shared machine's load falls on all of them alike; prints the median images/s of
each variant's blocks and its ratio to float32 in the channels-last layout (the loop's
layout before this comparison) as a Markdown table.

    python benchmarks/bench_training.py [--widths 8 16 32 64] [--blocks 5] [--steps 6]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch

from prbench.physics import forward
from prbench.nets import UNet
from prbench.train.losses import objective

class ChannelsLast(torch.nn.Module):
    """The wrapped network, fed its inputs in the channels-last layout."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.contiguous(memory_format=torch.channels_last))


VARIANTS = {  # name -> (channels-last, bf16 autocast, jacobian_weight, jacobian_samples)
    "float32, channels-last": (True, False, 0.0, None),
    "float32": (False, False, 0.0, None),
    "bf16 autocast, channels-last": (True, True, 0.0, None),
    "bf16 autocast": (False, True, 0.0, None),
    "bf16 + Jacobian on the whole batch": (False, True, 1e-4, None),
    "bf16 + Jacobian on 8 images per batch": (False, True, 1e-4, 8),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.complex(torch.rand(args.batch, 36, 36), torch.zeros(args.batch, 36, 36))
    y = forward(x, 72)
    models = {}
    for name in VARIANTS:
        torch.manual_seed(0)
        model = UNet(widths=tuple(args.widths), out_size=36)
        if VARIANTS[name][0]:
            model = ChannelsLast(model.to(memory_format=torch.channels_last))
        models[name] = (model, torch.optim.AdamW(model.parameters(), lr=1e-3))
    speeds = {name: [] for name in VARIANTS}
    for block in range(args.blocks + 1):  # block 0 warms up
        for name, (_, amp, weight, samples) in VARIANTS.items():
            model, optimizer = models[name]
            autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if amp
                        else contextlib.nullcontext())
            start = time.perf_counter()
            for _ in range(args.steps):
                with autocast:
                    terms = objective(model, x, y, kind="passive", jacobian_weight=weight,
                                      jacobian_samples=samples)
                optimizer.zero_grad(set_to_none=True)
                terms.total.backward()
                optimizer.step()
            if block:
                speeds[name].append(args.steps * args.batch / (time.perf_counter() - start))
    base = statistics.median(speeds["float32, channels-last"])
    print(f"U-Net {'-'.join(map(str, args.widths))}, batch {args.batch}, one thread, "
          f"{args.blocks} interleaved blocks of {args.steps} steps (torch {torch.__version__})\n")
    print("| variant | images/s (median) | ratio to float32, channels-last |\n"
          "| --- | ---: | ---: |")
    for name, values in speeds.items():
        speed = statistics.median(values)
        print(f"| {name} | {speed:.0f} | {speed / base:.2f} |")


if __name__ == "__main__":
    main()
