"""Snakemake adapter: a trained U-Net's reconstructions of one test shard."""

import time
from pathlib import Path

import numpy as np
import torch

from prbench import methods, provenance
from prbench.data import synth
from prbench.devices import select_device
from prbench.io import save_npz
from prbench.nets import load_network
from prbench.physics import fourier_residual, pad
from prbench.runlog import job_log
from prbench.train import predict

with job_log(snakemake.log[0], "predict") as log:  # noqa: F821
    torch.set_num_threads(snakemake.threads)  # noqa: F821
    params = snakemake.params  # noqa: F821
    test = synth.load(snakemake.input.test)  # noqa: F821
    indices = methods.shard_indices(len(test.y), params.shards,
                                    int(snakemake.wildcards.shard))  # noqa: F821
    device = select_device(params.device)
    model = load_network(snakemake.input.model, device,  # noqa: F821
                         produced_by=f"train_{params.method.removesuffix('_dnn')}")
    start = time.perf_counter()
    x_hat = predict(model, torch.from_numpy(test.y[indices]), device=device)
    seconds = time.perf_counter() - start
    test.geometry.check_objects(x_hat, f"output of the network {snakemake.input.model}")  # noqa: F821
    y = torch.from_numpy(test.y[indices])
    residual = fourier_residual(pad(x_hat, test.geometry.m), y.sqrt()).numpy()
    log.info("%s: %d images in %.2f s on %s", params.method, len(indices), seconds, device)
    record = provenance.collect(repository=Path(snakemake.scriptdir).parent,  # noqa: F821
                                device=str(device), config={"method": params.method})
    save_npz(snakemake.output[0], x_hat=x_hat.numpy(), index=indices,  # noqa: F821
             residual=residual, iterations=np.zeros(len(indices), int),
             device=np.array(str(device)), seconds=np.full(len(indices), seconds / len(indices)),
             provenance=np.array(provenance.dumps(record)))
