"""Throughput of the batched torch solvers vs a one-image-at-a-time NumPy HIO.

Measures image-iterations per second (batch size x iterations / wall time, median
of ``--repeats`` runs) for HIO and ALM (one L-BFGS iteration = one iteration) at
batch 1 and a large batch, on synthetic 36 x 36 objects with m = 72 and the frame
support, one start, no ER polish. Prints a Markdown table.

    python benchmarks/bench_solvers.py [--device cpu|cuda] [--batch 512] [--repeats 3]
                                       [--threads N]

On a shared 2-core machine use --threads 1: with more torch threads than free
cores, OpenMP oversubscription slows torch down by orders of magnitude.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from prbench.geometry import Geometry
from prbench.physics import forward
from prbench.solvers import alm, hio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from synthetic_objects import blob_objects  # noqa: E402  (a test fixture, in tests/)

GEOMETRY, BETA = Geometry(n=36, m=72), 0.9


def numpy_hio(Y: np.ndarray, iters: int, seed: int = 0) -> np.ndarray:
    """Reference HIO for one (m, m) image with numpy.fft in complex64, frame support."""
    rng = np.random.default_rng(seed)
    a = np.sqrt(Y).astype(np.float32)
    support = np.zeros(Y.shape, dtype=bool)
    support[:GEOMETRY.n, :GEOMETRY.n] = True
    x = np.fft.ifft2(a * np.exp(2j * np.pi * rng.random(Y.shape)).astype(np.complex64))
    x = np.where(support, x, 0).astype(np.complex64)
    for _ in range(iters):
        spectrum = np.fft.fft2(x)
        modulus = np.abs(spectrum)
        spectrum = np.where(modulus > 0, a * spectrum / np.maximum(modulus, 1e-30), a)
        p = np.fft.ifft2(spectrum)
        x = np.where(support, p, x - BETA * p)
    return x


def _timed(fn, repeats: int, sync) -> float:
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    Y_all = forward(blob_objects(args.batch, seed=0, n=GEOMETRY.n), GEOMETRY.m).to(device)
    rows = []

    y0 = Y_all[0].cpu().numpy()
    np_iters = 200
    t_np = _timed(lambda: numpy_hio(y0, np_iters), args.repeats, lambda: None)
    ref = np_iters / t_np
    rows.append(("HIO, NumPy one image at a time", 1, np_iters, t_np, ref))

    # (method, batch, iterations, call); ALM: outer x inner L-BFGS iterations, tolerances
    # 0 so that every iteration runs.
    cases = [
        ("HIO, torch batched", 1, 200,
         lambda Y: hio(Y, geometry=GEOMETRY, iters=200, n_starts=1, er_iters=0,
                       log_every=10**9)),
        ("HIO, torch batched", args.batch, 20,
         lambda Y: hio(Y, geometry=GEOMETRY, iters=20, n_starts=1, er_iters=0,
                       log_every=10**9)),
        ("ALM (L-BFGS its), torch batched", 1, 50,
         lambda Y: alm(Y, geometry=GEOMETRY, n_starts=1, outer_iters=2, inner_iters=25,
                       tol=0.0, grad_tol=0.0)),
        ("ALM (L-BFGS its), torch batched", args.batch, 6,
         lambda Y: alm(Y, geometry=GEOMETRY, n_starts=1, outer_iters=2, inner_iters=3,
                       tol=0.0, grad_tol=0.0)),
    ]
    for name, batch, iters, call in cases:
        Y = Y_all[:batch]
        call(Y)  # warm-up
        seconds = _timed(lambda: call(Y), args.repeats, sync)
        rows.append((name, batch, iters, seconds, batch * iters / seconds))

    print(f"\ndevice: {device}, torch threads: {torch.get_num_threads()}, "
          f"median of {args.repeats} runs, n = {GEOMETRY.n}, m = {GEOMETRY.m}\n")
    print("| method | batch | iterations | time (s) | image-iterations/s | vs NumPy HIO |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, batch, iters, seconds, rate in rows:
        print(f"| {name} | {batch} | {iters} | {seconds:.3f} | {rate:,.0f} | {rate / ref:.2f}x |")


if __name__ == "__main__":
    main()
