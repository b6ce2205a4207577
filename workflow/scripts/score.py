"""Snakemake adapter: score one method's reconstructions -> per-image CSV + aligned images."""

from prbench.data import synth
from prbench.io import save_npz, write_text
from prbench.methods import METHODS
from prbench.report.scores import load_shards, score_method
from prbench.runlog import job_log

with job_log(snakemake.log[0], "score") as log:  # noqa: F821
    method = snakemake.wildcards.method  # noqa: F821
    test = synth.load(snakemake.input.test)  # noqa: F821
    spec = METHODS[method]
    rule = ("reconstruct_prdeep" if spec.denoiser else "reconstruct" if spec.model is None
            else f"predict_{spec.model}" if spec.solver is None else f"refine_{spec.model}")
    shards = load_shards(snakemake.input.shards, produced_by=rule)  # noqa: F821
    scores, aligned = score_method(method, test, shards, test.geometry)
    log.info("%s: %d images, mean MSE %.4f, median %.4f", method, len(scores),
             scores["mse"].mean(), scores["mse"].median())
    write_text(snakemake.output.scores, scores.to_csv(index=False))  # noqa: F821
    save_npz(snakemake.output.aligned, aligned=aligned, image=scores["image"].to_numpy())  # noqa: F821
