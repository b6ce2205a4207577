"""GPU check: the default configuration's methods on CUDA, against the CPU, in one run.

For a machine without Snakemake: it repeats the workflow's steps through the library
(synthesis with the config's seed, so the data equal a CPU run's; U-Net and denoiser
training; every method on the test set) and prints one Markdown table. It also runs the
iterative methods on the CPU for a subset of the test images and reports how far the
CUDA scores are from the CPU ones (the iterations are chaotic, so per-image agreement is
not expected; the distributions should agree).

    python benchmarks/gpu_check.py --fashion-mnist resources/fashion_mnist.npz --out OUT
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from prbench import methods
from prbench.data import fashion_mnist, synth
from prbench.geometry import Geometry
from prbench.metrics import symmetric_mse
from prbench.nets import DnCNN, UNet
from prbench.solvers import hio, alm
from prbench.train import predict, train
from prbench.train.denoiser import train_denoiser

ROOT = Path(__file__).resolve().parents[1]


def timed(function, *args, **kwargs):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = function(*args, **kwargs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def score(truth: np.ndarray, x_hat: np.ndarray, geometry: Geometry) -> np.ndarray:
    return symmetric_mse(torch.from_numpy(truth), torch.from_numpy(x_hat), geometry).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fashion-mnist", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--config", default=ROOT / "config" / "config.yaml", type=Path)
    parser.add_argument("--cpu-images", default=20, type=int)
    parser.add_argument("--device", default="cuda", help="cuda (the check) or cpu (a dry run)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="prbench-gpu-check-"))  # checkpoints
    config = yaml.safe_load(args.config.read_text())
    seed, syn = config["seed"], config["synthesis"]
    geometry = Geometry.from_config(config)
    device = torch.device(args.device)
    report: dict = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
                    "torch": torch.__version__}

    with np.load(args.fashion_mnist) as stored:
        base = fashion_mnist.FashionMNIST(stored["train_images"], stored["train_labels"],
                                          stored["test_images"], stored["test_labels"], "npm")
    sets = {split: synth.synthesize(getattr(base, f"{split}_images"),
                                    getattr(base, f"{split}_labels"), syn[f"{split}_size"],
                                    seed=seed, split=split, geometry=geometry)
            for split in ("train", "test")}
    train_set, test = sets["train"], sets["test"]
    n_val = synth.validation_size(len(train_set.x), config["training"]["validation_fraction"])
    x, y = torch.from_numpy(train_set.x), torch.from_numpy(train_set.y)
    indices = np.arange(len(test.y))
    rows = []

    outputs = {}
    for model_name, settings in config["training"]["models"].items():
        torch.manual_seed(seed)
        model = UNet(widths=tuple(settings["widths"]), out_size=geometry.n)
        summary, seconds = timed(
            train, model, (x[:-n_val], y[:-n_val]), (x[-n_val:], y[-n_val:]),
            objective=model_name, jacobian_weight=settings.get("jacobian_weight", 0.0),
            epochs=settings["epochs"], batch_size=settings.get("batch_size", 64),
            lr=settings.get("lr", 1e-3), seed=seed, device=device,
            out_dir=scratch / model_name, progress=False)
        rate = np.median([row["images_per_s"] for row in summary["history"]])
        report[f"train_{model_name}"] = {"seconds": seconds, "images_per_s": rate}
        outputs[model_name] = predict(model, torch.from_numpy(test.y), device=device).numpy()
        rows.append((f"{model_name}_dnn", score(test.x, outputs[model_name], geometry), np.nan))

    torch.manual_seed(seed)
    den = config["denoiser"]
    denoiser = DnCNN(depth=den["depth"], width=den["width"])
    objects = torch.from_numpy(train_set.x)
    summary, seconds = timed(train_denoiser, denoiser, objects[:-n_val], objects[-n_val:],
                             sigma_ranges=[tuple(r) for r in den["sigma_ranges"]],
                             epochs=den["epochs"], batch_size=den["batch_size"], lr=den["lr"],
                             seed=seed, device=device, out_dir=scratch / "denoiser")
    report["train_denoiser"] = {"seconds": seconds, "val_gain": summary["val_gain"]}

    cpu_subset = indices[: args.cpu_images]
    for name, params in config["reconstruction"]["methods"].items():
        spec = methods.METHODS[name]
        if spec.solver is None:
            continue
        extra = {}
        if spec.model:
            extra["network_output"] = outputs[spec.model]
        if spec.denoiser:
            extra["denoiser"] = summary["best"]
        result = methods.reconstruct(name, test.y, indices, params, seed=seed,
                                     geometry=geometry, device=args.device, **extra)
        gpu_mse = score(test.x, result.x_hat, geometry)
        cpu_delta = np.nan
        if not spec.model and not spec.denoiser:
            torch.set_num_threads(4)
            cpu = methods.reconstruct(name, test.y[cpu_subset], cpu_subset, params, seed=seed,
                                      geometry=geometry, device="cpu")
            cpu_delta = float(score(test.x[cpu_subset], cpu.x_hat, geometry).mean()
                              - gpu_mse[cpu_subset].mean())
        report[f"seconds_{name}"] = result.seconds
        rows.append((name, gpu_mse, cpu_delta))

    throughput = {}
    for batch in (512, 4096) if device.type == "cuda" else (8,):
        ys = torch.from_numpy(np.resize(test.y, (batch, *test.y.shape[1:]))).to(device)
        _, seconds = timed(hio, ys, seed=0, geometry=geometry, iters=100, n_starts=1, er_iters=0)
        throughput[f"hio_batch{batch}"] = batch * 100 / seconds
        (_, info), seconds = timed(alm, ys, seed=0, geometry=geometry, n_starts=1, outer_iters=2,
                                   inner_iters=10)
        throughput[f"alm_lbfgs_batch{batch}"] = float(info.iterations.sum()) / seconds
    report["throughput_image_iterations_per_s"] = throughput

    lines = ["| method | mean MSE (CUDA) | median | CPU mean - CUDA mean (subset) | seconds |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, mse, delta in rows:
        lines.append(f"| {name} | {mse.mean():.3f} | {np.median(mse):.3f} | {delta:+.3f} | "
                     f"{report.get(f'seconds_{name}', float('nan')):.1f} |")
    text = "\n".join(lines)
    print(text)
    print(json.dumps(report, indent=2, default=float))
    (args.out / "gpu_check.md").write_text(text + "\n")
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
