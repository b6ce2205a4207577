"""The offline GPU deployment proved here, on the CPU (``python tools/gpu/gpu_workflow.py
selftest``): the same ``prepare`` for this machine's Python into a scratch folder, a fresh
``venv --without-pip`` interpreter that sees only those wheels, the repository's ``src/``
and the node's preinstalled packages (linked from this interpreter), then ``run`` with
``-n`` (both configs planned only), or with ``--full`` the whole tiny smoke workflow on
the CPU.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from offline_node import DEFAULT_CONFIG, DEFAULT_CONFIGS, PREINSTALLED, mib, normalize, sh
from pack_wheels import node_packages, resolve_wheels
from run_workflow import cmd_run

def mirror_preinstalled(dest: Path) -> list[str]:
    """Link this interpreter's copies of the node's preinstalled packages into ``dest``,
    so that a bare interpreter sees those and nothing else from here."""
    import importlib.metadata as md

    dest.mkdir(parents=True, exist_ok=True)
    linked = []
    for dist in md.distributions():
        name = normalize(dist.metadata["Name"])
        if name not in PREINSTALLED or name in {"pip", "setuptools", "wheel"}:
            continue
        base = Path(dist.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in dist.files or []}
        for top in tops:
            if top in ("..", "bin") or top.endswith(".pth"):
                continue
            source, link = base / top, dest / top
            if source.exists() and not link.exists():
                link.symlink_to(source)
        linked.append(f"{name}=={dist.version}")
    return sorted(linked)


def cmd_selftest(args) -> int:
    scratch = Path(args.scratch)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    wheels, site, mirror = scratch / "whl", scratch / "site", scratch / "preinstalled"
    if not args.reuse:
        shutil.rmtree(scratch, ignore_errors=True)
        manifest = resolve_wheels(wheels, version, set(), node_packages(None))
        print(f"{len(manifest['shipped'])} wheels for Python {version}: {mib(manifest['bytes'])}")
        linked = mirror_preinstalled(mirror)
        print(f"mirrored {len(linked)} preinstalled packages from {sys.prefix}")
        sh([sys.executable, "-m", "venv", "--without-pip", "--clear", scratch / "venv"])
    python = str(scratch / "venv" / "bin" / "python")
    isolated = subprocess.run([python, "-c", "import snakemake"], capture_output=True,
                              env={"PATH": os.environ.get("PATH", "")})
    if isolated.returncode == 0:
        raise SystemExit(f"{python} imports snakemake without the wheels: not isolated")
    print(f"{python} alone cannot import snakemake (isolated)")
    configs = [str(config) for config in DEFAULT_CONFIGS]  # planned only (-n)
    if args.full:  # the smoke config on the CPU, under its own run name, run for real
        text = DEFAULT_CONFIG.read_text().replace("device: cuda", "device: cpu")
        text = re.sub(r"^run:.*$", "run: gpu-smoke-cpu", text, count=1, flags=re.M)
        configs = [str(scratch / "gpu-smoke-cpu.yaml")]
        Path(configs[0]).write_text(text)
    run_args = argparse.Namespace(
        python=python, pip=f"{sys.executable} -m pip", wheels=str(wheels), site=str(site),
        extra_path=[str(mirror)], configfile=configs, cores=args.cores, gpu_jobs=8,
        budget_s=None, no_report=False, out=str(scratch / "out"), dry_run=not args.full,
        snakemake_args=[])
    return cmd_run(run_args)
