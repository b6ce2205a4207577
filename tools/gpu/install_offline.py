"""Job 2 of the offline GPU deployment, on the node: install the packed wheels offline.

``pip install --no-index --no-deps --target SITE``; that folder and the repository's
``src/`` go on PYTHONPATH (prbench is not installed); every shipped package's requirements
are checked against what the node has, and a packed fallback is installed where the node's
own copy fails one. Standard library only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import offline_node as gpu
from offline_node import sh, wheel_name_version

PROBE = r"""
import importlib.metadata as md, json, os, sys
site = os.environ["PRBENCH_SITE"]
info = {"python": sys.version.split()[0], "executable": sys.executable}
import snakemake, prbench
info["snakemake"] = md.version("snakemake")
info["snakemake_from"] = os.path.dirname(snakemake.__file__)
info["prbench_from"] = os.path.dirname(prbench.__file__)
try:
    import torch
    info["torch"] = torch.__version__
    info["cuda_build"] = torch.version.cuda
    info["cuda_available"] = torch.cuda.is_available()
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
except ImportError as error:
    info["torch"] = f"missing: {error}"
unmet = []
try:
    from packaging.requirements import Requirement
    extras = {"snakemake": {"", "reports"}}
    for dist in md.distributions(path=[site]):
        name = dist.metadata["Name"].lower().replace("_", "-")
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker and not any(req.marker.evaluate({"extra": e})
                                      for e in extras.get(name, {""})):
                continue
            try:
                have = md.version(req.name)
            except md.PackageNotFoundError:
                have = None
            if have is None or (req.specifier
                                and not req.specifier.contains(have, prereleases=True)):
                unmet.append({"by": name, "requirement": line, "have": have,
                              "name": req.name.lower().replace("_", "-").replace(".", "-")})
except ImportError as error:
    unmet.append({"by": "-", "requirement": f"not checked: {error}", "have": None, "name": ""})
info["unmet_requirements"] = unmet
print(json.dumps(info))
"""


def probe(python: str, env: dict) -> dict:
    result = subprocess.run([python, "-c", PROBE], cwd=gpu.ROOT, env=env, capture_output=True,
                            text=True)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        raise SystemExit("the interpreter cannot import snakemake and prbench from the wheels")
    return json.loads(result.stdout)


def install(python: str, pip: list[str], wheels: Path, site: Path, extra_path: list[str],
            summary: dict) -> tuple[dict, dict]:
    """Install ``wheels`` (a folder of .whl files, and its fallback/) into ``site`` with
    ``pip``; returns the environment that runs ``python`` on them and the repository's
    ``src/``, and what :func:`probe` found there (versions, CUDA, unmet requirements).
    Records in ``summary`` the install's seconds, the versions found and the
    fallbacks installed."""
    found = sorted(wheels.glob("*.whl"))
    if not found:
        raise SystemExit(f"no wheels in {wheels}: run `prepare` first (online)")
    start = time.perf_counter()
    sh([*pip, "install", "-q", "--no-index", "--no-deps", "--no-compile", "--no-cache-dir",
        "--upgrade", "--target", site, *found])
    summary["install_s"] = round(time.perf_counter() - start, 1)
    env = dict(os.environ)
    path = [str(site), str(gpu.ROOT / "src"), *extra_path]
    env["PYTHONPATH"] = os.pathsep.join(path)
    env["PRBENCH_SITE"] = str(site)
    env["PYTHONUNBUFFERED"] = "1"
    info = probe(python, env)
    fallback = {wheel_name_version(w)[0]: w for w in sorted((wheels / "fallback").glob("*.whl"))}
    needed = sorted({u["name"] for u in info["unmet_requirements"]} & set(fallback))
    if needed:  # the node's copy is too old or too new: install the resolved one on top
        print(f"node's own copies fail requirements; installing fallbacks: {needed}")
        sh([*pip, "install", "-q", "--no-index", "--no-deps", "--no-compile", "--no-cache-dir",
            "--upgrade", "--target", site, *(fallback[n] for n in needed)])
        info = probe(python, env)
        summary["fallbacks_installed"] = needed
    summary.update(info)
    for key in ("python", "snakemake", "snakemake_from", "prbench_from", "torch", "cuda_build",
                "cuda_available", "gpu"):
        print(f"{key}: {info.get(key)}")
    for unmet in info["unmet_requirements"]:
        print(f"WARNING unmet requirement of {unmet['by']}: {unmet['requirement']} "
              f"(have {unmet['have']})")
    if not Path(info["snakemake_from"]).is_relative_to(site.resolve()):
        raise SystemExit(f"snakemake was imported from {info['snakemake_from']}, not {site}")
    return env, info
