"""Snakemake adapter: reconstruct one test shard with one method (iterative, refined, prDeep)."""

from pathlib import Path

import numpy as np
import torch

from prbench import methods, provenance
from prbench.data import synth
from prbench.io import load_npz, save_npz
from prbench.runlog import job_log

with job_log(snakemake.log[0], "reconstruct") as log:  # noqa: F821
    torch.set_num_threads(snakemake.threads)  # noqa: F821
    params, wildcards = snakemake.params, snakemake.wildcards  # noqa: F821
    test = synth.load(snakemake.input.test)  # noqa: F821
    indices = methods.shard_indices(len(test.y), params.shards, int(wildcards.shard))
    network_output = None
    if "network" in snakemake.input.keys():  # noqa: F821
        path = snakemake.input.network  # noqa: F821
        network = load_npz(path, keys=("x_hat", "index"),
                           produced_by=f"predict_{params.method.split('_')[0]}")
        if not np.array_equal(network["index"], indices):
            raise ValueError(f"{path} holds other images than this shard")
        network_output = network["x_hat"]
    denoiser = snakemake.input.denoiser if "denoiser" in snakemake.input.keys() else None  # noqa: F821
    result = methods.reconstruct(params.method, test.y[indices], indices, params.solver,
                                 seed=params.seed, geometry=test.geometry, device=params.device,
                                 network_output=network_output, denoiser=denoiser)
    log.info("%s shard %s: %d images in %.1f s on %s, median residual %.3g", params.method,
             wildcards.shard, len(indices), result.seconds, result.device,
             float(np.median(result.residual)))
    record = provenance.collect(repository=Path(snakemake.scriptdir).parent,  # noqa: F821
                                seed=params.seed, device=result.device,
                                config={"method": params.method, "params": params.solver})
    save_npz(snakemake.output[0], x_hat=result.x_hat, index=indices,  # noqa: F821
             residual=result.residual, iterations=result.iterations,
             device=np.array(result.device),
             seconds=np.full(len(indices), result.seconds / len(indices)),
             provenance=np.array(provenance.dumps(record)))
