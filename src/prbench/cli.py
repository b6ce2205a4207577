"""The ``prbench`` command: list the methods, reconstruct measured intensities, score.

::

    prbench methods [--plugin MODULE ...]
    prbench reconstruct METHOD INPUT --n N --out OUT.npz [--m M] [--centered]
                        [--support MASK.npy] [--seed S] [--param KEY=VALUE ...]
                        [--run RUN_DIR] [--plugin MODULE ...] [--device auto|cpu|cuda]
                        [--chunk K]
    prbench score TRUTH.npy RECON.npz [--n N] [--json]
    prbench docs [--check] [--root DIR] [FILES]

Conventions are the library's (:mod:`prbench.physics`): an object sits in the n x n
top-left frame of the m x m grid, and the intensities are Y = |F pad(x, m)|^2 with the
unnormalised 2-D DFT, zero frequency at [0, 0] (``--centered``: at the centre, as
``np.fft.fftshift`` puts it). Bad input is one line ``prbench: error: ...`` on stderr
and exit status 2, with nothing written; torch is imported only by the commands that
compute.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import registry
from .io import CorruptFileError

__all__ = ["CLIError", "main", "needs_text", "parse_param"]

#: Text that reads as a number; PyYAML keeps some of it (1e-3, 2E5) as a string.
_NUMBER_TEXT = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
#: Images per call of :func:`prbench.methods.reconstruct` (results do not depend on it).
DEFAULT_CHUNK = 16


class CLIError(Exception):
    """Bad input to the command: printed as ``prbench: error: <message>``, exit status 2."""


def _errors() -> tuple[type[BaseException], ...]:
    """The exceptions :func:`main` reports as a one-line error."""
    return (CLIError, ValueError, CorruptFileError, registry.PluginError)


# ---------------------------------------------------------------------------- helpers

def _load_plugins(modules: Sequence[str]) -> dict[str, Any]:
    """Register the methods of the plugin ``modules`` and of the installed packages' entry
    points (:func:`prbench.registry.load_plugins`, as every workflow job does); their
    provenance by module."""
    return registry.load_plugins(list(modules))


def _method(name: str) -> registry.Method:
    if name not in registry.METHODS:
        raise CLIError(f"unknown method {name!r}; registered methods: "
                       f"{', '.join(registry.METHODS)}")
    return registry.METHODS[name]


def needs_text(method: registry.Method) -> str:
    """What ``method`` needs beside the measurements, in words: "network <model>",
    "network <model> + support", "denoiser", "training set" or "nothing"."""
    words = {"network": f"network {method.model}", "support": "support",
             "denoiser": "denoiser", "training_set": "training set"}
    needs = method.needs()
    return " + ".join(words.get(role, role) for role in needs) if needs else "nothing"


def parse_param(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> (key, value), the value read as YAML (``iters=200`` -> 200,
    ``sigmas=[1, 2]`` -> [1, 2]; a number YAML leaves as text, such as 1e-3, -> float)."""
    import yaml

    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise CLIError(f"--param {text!r} is not KEY=VALUE with KEY a parameter name")
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as error:
        raise CLIError(f"--param {key}: value {value!r} is not valid YAML "
                       f"({str(error).splitlines()[0]})") from None
    if isinstance(parsed, str) and _NUMBER_TEXT.match(parsed):
        parsed = float(parsed)
    return key, parsed


def check_params(method: registry.Method, params: dict[str, Any]) -> None:
    """Refuse a parameter ``method``'s solver does not take
    (:func:`prbench.methods.check_parameters`: reserved, fixed, not in the signature)."""
    from . import methods as executor

    executor.check_parameters(method.name, params)


def _load_npy(path: str, what: str) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise CLIError(f"cannot read {what} {path}: {error}") from None
    if not isinstance(array, np.ndarray):
        raise CLIError(f"{what} {path} is not a .npy array (an .npz archive?)")
    return array


def _sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_intensities(path: str, *, centered: bool = False) -> np.ndarray:
    """The intensities in ``path`` (.npy, (m, m) or (B, m, m), real, finite, >= 0) as a
    (B, m, m) float32 array, zero frequency at [0, 0] (``centered``: ifftshift-ed)."""
    y = _load_npy(path, "INPUT")
    if y.ndim not in (2, 3) or y.shape[-1] != y.shape[-2] or 0 in y.shape:
        raise CLIError(f"INPUT {path} has shape {y.shape}: the intensities must be a square "
                       "(m, m) image or a (B, m, m) stack of them")
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise CLIError(f"INPUT {path} has dtype {y.dtype}: intensities are real numbers")
    y = y.astype(np.float64)[None] if y.ndim == 2 else y.astype(np.float64)
    if not np.isfinite(y).all():
        raise CLIError(f"INPUT {path} holds {int((~np.isfinite(y)).sum())} non-finite "
                       "intensities (NaN or infinite)")
    if (y < 0).any():
        raise CLIError(f"INPUT {path} holds {int((y < 0).sum())} negative intensities "
                       f"(min {y.min():g}); |F x|^2 is >= 0")
    if centered:
        y = np.fft.ifftshift(y, axes=(-2, -1))
    return np.ascontiguousarray(y, dtype=np.float32)


def load_support(path: str, n: int, m: int) -> np.ndarray:
    """The support mask in ``path`` (.npy, bool or 0/1, (m, m) or (n, n): the top-left
    frame) as an (m, m) bool array; it may not be empty."""
    mask = _load_npy(path, "--support")
    if mask.shape not in ((m, m), (n, n)):
        raise CLIError(f"--support {path} has shape {mask.shape}; expected ({m}, {m}) or the "
                       f"({n}, {n}) frame")
    if mask.dtype != bool:
        if not (np.issubdtype(mask.dtype, np.number) and np.isin(mask, (0, 1)).all()):
            raise CLIError(f"--support {path} must be boolean or 0/1, got dtype {mask.dtype}")
        mask = mask.astype(bool)
    if not mask.any():
        raise CLIError(f"--support {path} is empty (no True pixel)")
    full = np.zeros((m, m), bool)
    full[:mask.shape[0], :mask.shape[1]] = mask
    return full


def _run_config(run: Path) -> dict[str, Any]:
    """The whole config of the finished run whose scenario folder is ``run``."""
    record_path = run / "provenance.json"
    if not run.is_dir():
        raise CLIError(f"--run {run} is not a folder")
    if not record_path.is_file():
        raise CLIError(f"--run {run}: no provenance.json there; pass a finished run's "
                       "scenario folder, results/<run>/<scenario>")
    try:
        config = json.loads(record_path.read_text(encoding="utf-8"))["config"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CLIError(f"--run {run}: provenance.json holds no run config "
                       f"({type(error).__name__}: {error})") from None
    if not isinstance(config, dict):
        raise CLIError(f"--run {run}: the config in provenance.json is not a mapping")
    return config


def _run_files(run: Path, config: dict[str, Any], method: registry.Method, n: int,
               m: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """From a finished run's scenario folder ``run`` and its ``config``: the method's
    settings in the config, and the keyword arguments of what the method needs (paths;
    the support choice). Checks the run's geometry against (n, m)."""
    try:
        scenario = config.get("scenario") or run.name
        if scenario in (config.get("scenarios") or {}):
            from .config import scenario_synthesis

            synthesis = scenario_synthesis(config, scenario)
        else:
            synthesis = config["synthesis"]
        run_n, run_m = synthesis["n"], synthesis["m"]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CLIError(f"--run {run}: its config has no synthesis n and m "
                       f"({type(error).__name__}: {error})") from None
    if (run_n, run_m) != (n, m):
        raise CLIError(f"--run {run} was run with n = {run_n}, m = {run_m}, not the "
                       f"n = {n}, m = {m} given")
    settings = ((config.get("reconstruction") or {}).get("methods") or {}).get(method.name)
    files: dict[str, Any] = {}
    for role, relative in method.needs().items():
        path = run / relative
        if not path.is_file():
            raise CLIError(f"--run {run} lacks {relative}, the {role.replace('_', ' ')} "
                           f"that method {method.name!r} needs")
        if role == "support":
            from .support_selection import load_selection

            files["support"] = load_selection(path, model=method.model)["choice"]
        elif role in ("network", "denoiser", "training_set"):
            files[role] = str(path)
        else:
            raise CLIError(f"method {method.name!r} needs a {role!r}, which this command "
                           "cannot provide")
    return dict(settings or {}), files


def _check_writable(out: Path) -> None:
    parent = out.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK) or out.is_dir():
        raise CLIError(f"cannot write --out {out}")


def _progress(message: str) -> None:
    print(f"prbench: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- commands

def _cmd_methods(args: argparse.Namespace) -> int:
    _load_plugins(args.plugin)
    rows = [("method", "label", "group", "needs")] + [
        (method.name, method.label, method.group, needs_text(method))
        for method in registry.METHODS.values()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])
    return 0


def _cmd_reconstruct(args: argparse.Namespace) -> int:
    if args.chunk < 1:
        raise CLIError(f"--chunk must be >= 1, got {args.chunk}")
    overrides = dict(parse_param(text) for text in args.param)
    out = Path(args.out)
    _check_writable(out)
    y = load_intensities(args.input, centered=args.centered)
    m, n = y.shape[-1], args.n
    if args.m is not None and args.m != m:
        raise CLIError(f"--m {args.m} disagrees with INPUT {args.input}, whose images are "
                       f"{m} x {m}")
    if n < 1:
        raise CLIError(f"--n must be >= 1, got {n}")
    if m < 2 * n - 1:
        raise CLIError(f"m = {m} (INPUT's side) is below 2n - 1 = {2 * n - 1}: Fourier "
                       f"phase retrieval of an n = {n} frame needs m >= 2n - 1")
    run = Path(args.run) if args.run else None
    config = _run_config(run) if run is not None else {}
    plugins = list(args.plugin)  # and the run's own, which register its methods
    run_plugins = config.get("plugins") or []
    run_plugins = [run_plugins] if isinstance(run_plugins, str) else list(run_plugins)
    plugins += [str(p) for p in run_plugins if str(p) not in plugins]
    _load_plugins(plugins)
    method = _method(args.method)
    run_settings: dict[str, Any] = {}
    files: dict[str, Any] = {}
    if run is None:
        if method.needs():
            raise CLIError(f"method {method.name!r} needs {needs_text(method)} from a "
                           "trained run: pass --run results/<run>/<scenario>")
    else:
        run_settings, files = _run_files(run, config, method, n, m)
    params = {**run_settings, **overrides}
    check_params(method, params)

    from . import methods as executor
    from .geometry import Geometry

    geometry = Geometry(n, m)
    support_kwargs: dict[str, Any] = {}
    if args.support is not None:
        if method.solver is None or "network" in method.needs():
            raise CLIError(f"--support: method {method.name!r} "
                           + ("has no solver" if method.solver is None else
                              "takes its support from its network")
                           + "; --support is for a solver that needs no network")
        support_kwargs["support_mask"] = load_support(args.support, n, m)
    return _reconstruct(args, method, y, geometry, params, files, support_kwargs,
                        out, executor)


def _reconstruct(args: argparse.Namespace, method: registry.Method, y: np.ndarray,
                 geometry: Any, params: dict[str, Any], files: dict[str, Any],
                 support_kwargs: dict[str, Any], out: Path, executor: Any) -> int:
    """Reconstruct y (B, m, m) in chunks of ``args.chunk`` images (image i seeded by
    (seed, method, i)); write OUT: x_hat (B, m, m) complex64 (a (B, n, n) output padded),
    residual (B,), iterations (B,), stop_reason (B,), provenance (JSON text)."""
    import torch

    from . import provenance
    from .io import save_npz
    from .physics import pad

    count, chunk = len(y), args.chunk
    parts: list[Any] = []
    device = None
    start = time.perf_counter()
    for first in range(0, count, chunk):
        indices = np.arange(first, min(first + chunk, count))
        result = executor.reconstruct(method.name, y[indices], indices, params, seed=args.seed,
                                      geometry=geometry, device=args.device,
                                      network=files.get("network"),
                                      denoiser=files.get("denoiser"),
                                      training_set=files.get("training_set"),
                                      support=files.get("support"), stopping=None,
                                      **support_kwargs)
        x_hat = torch.as_tensor(np.asarray(result.x_hat)).to(torch.complex64)
        if x_hat.shape[-1] != geometry.m:  # a network's output, the mean object: (B, n, n)
            x_hat = pad(x_hat, geometry.m)
        parts.append((x_hat.numpy(), np.asarray(result.residual, np.float64),
                      np.asarray(result.iterations, np.int64),
                      np.asarray(result.stop_reason).astype(str)))
        device = result.device
        _progress(f"reconstructed {indices[-1] + 1}/{count} images with {method.name} on "
                  f"{device} ({time.perf_counter() - start:.1f} s)")
    x_hat, residual, iterations, stop_reason = (np.concatenate(column) for column in zip(*parts))
    record = provenance.collect(
        repository=Path(__file__).resolve().parent, seed=args.seed, device=device,
        config={"method": method.name, "params": params, "support": files.get("support"),
                "stopping": None},
        command="reconstruct", method=method.name, params=params, n=geometry.n, m=geometry.m,
        input=os.path.abspath(args.input), input_sha256=_sha256(args.input),
        centered=args.centered,
        support_mask=None if args.support is None else {
            "path": os.path.abspath(args.support), "sha256": _sha256(args.support)},
        run=None if args.run is None else os.path.abspath(args.run),
        run_files=files, method_source=method.source,
        images=count)
    save_npz(out, x_hat=x_hat, residual=residual, iterations=iterations,
             stop_reason=stop_reason, provenance=np.array(provenance.dumps(record)))
    _progress(f"wrote {out}: x_hat {x_hat.shape} complex64, median residual "
              f"{np.median(residual):.3g}")
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    truth = _load_npy(args.truth, "TRUTH")
    if truth.ndim == 2:
        truth = truth[None]
    if truth.ndim != 3 or truth.shape[-1] != truth.shape[-2] or 0 in truth.shape:
        raise CLIError(f"TRUTH {args.truth} has shape {truth.shape}: expected square (n, n) "
                       "or (B, n, n) objects")
    if not (np.issubdtype(truth.dtype, np.number) and not np.issubdtype(truth.dtype, bool)):
        raise CLIError(f"TRUTH {args.truth} has dtype {truth.dtype}: expected numbers")
    n = truth.shape[-1] if args.n is None else args.n
    if not 1 <= n <= truth.shape[-1]:
        raise CLIError(f"--n {n} must be in 1..{truth.shape[-1]} (TRUTH's side)")
    if np.any(truth[:, n:, :]) or np.any(truth[:, :, n:]):
        raise CLIError(f"TRUTH {args.truth} has nonzero values outside its top-left "
                       f"{n} x {n} frame (--n {n})")
    truth = truth[:, :n, :n]
    try:
        with np.load(args.recon, allow_pickle=False) as stored:
            if "x_hat" not in stored.files:
                raise CLIError(f"RECON {args.recon} holds no x_hat (it has {stored.files})")
            recon = stored["x_hat"]
    except (OSError, ValueError, AttributeError) as error:
        raise CLIError(f"cannot read RECON {args.recon} as an .npz archive: {error}") from None
    if recon.ndim == 2:
        recon = recon[None]
    if recon.ndim != 3 or recon.shape[-1] != recon.shape[-2]:
        raise CLIError(f"RECON {args.recon}: x_hat has shape {recon.shape}, expected "
                       "(B, m, m) or (B, n, n)")
    if len(recon) != len(truth):
        raise CLIError(f"TRUTH {args.truth} holds {len(truth)} images but RECON "
                       f"{args.recon} {len(recon)}")
    side = recon.shape[-1]
    if side != n and side < 2 * n - 1:
        raise CLIError(f"RECON x_hat is {side} x {side}: expected the n = {n} frame or an "
                       f"m x m grid with m >= 2n - 1 = {2 * n - 1}")
    m = side if side != n else 2 * n - 1
    import torch

    from .geometry import Geometry
    from .metrics import symmetric_mse

    geometry = Geometry(n, m)
    mse = symmetric_mse(torch.from_numpy(np.ascontiguousarray(truth)),
                        torch.from_numpy(np.ascontiguousarray(recon)), geometry).numpy()
    mean = float(mse.mean())
    if args.json:
        print(json.dumps({"truth": args.truth, "recon": args.recon, "n": n, "m": m,
                          "mse": [float(v) for v in mse], "mean": mean}))
        return 0
    print(f"# symmetry-adjusted relative MSE, n = {n}, m = {m}")
    print("image  mse")
    for index, value in enumerate(mse):
        print(f"{index:<5d}  {float(value)!r}")
    print(f"mean   {mean:.3f}  ({len(mse)} images; {mean!r})")
    return 0


# ----------------------------------------------------------------------------- parser

def _add_plugin_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import a plugin module that registers methods (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    """The ``prbench`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="prbench", description="Fourier phase retrieval benchmark: list the "
        "registered methods, reconstruct intensities Y = |F pad(x, m)|^2, score.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser(
        "methods", help="list the registered methods",
        description="One line per registered method: name, label, group, and what it "
        "needs beside the measurements.")
    _add_plugin_option(listing)
    listing.set_defaults(handler=_cmd_methods)

    rec = commands.add_parser(
        "reconstruct", help="reconstruct objects from Fourier intensities",
        description="Reconstruct objects from Fourier intensities Y = |F pad(x, m)|^2 "
        "(unnormalised 2-D DFT, zero frequency at [0, 0]) with a registered method. "
        "Writes OUT (.npz): x_hat (B, m, m) complex64, the object in the top-left n x n "
        "frame up to the symmetries (global phase, circular shift, conjugate flip); "
        "residual (B,); iterations (B,); stop_reason (B,); provenance (JSON). Each "
        "image's random start depends on (seed, method, its index in INPUT) only.")
    rec.add_argument("method", metavar="METHOD", help="a registered method (prbench methods)")
    rec.add_argument("input", metavar="INPUT",
                     help=".npy intensities, (m, m) or (B, m, m), real, finite, >= 0")
    rec.add_argument("--n", type=int, required=True, help="side of the object frame (px)")
    rec.add_argument("--out", required=True, metavar="OUT.npz", help="output file")
    rec.add_argument("--m", type=int, help="grid side; must equal INPUT's (checked)")
    rec.add_argument("--centered", action="store_true",
                     help="INPUT has zero frequency at the centre (fftshift-ed, as "
                     "detectors record it); it is ifftshift-ed first")
    rec.add_argument("--support", metavar="MASK.npy",
                     help="support mask, bool or 0/1, (m, m) or (n, n) (the top-left frame), "
                     "for a solver that needs no network")
    rec.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    rec.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                     help="a solver parameter, VALUE read as YAML (repeatable); overrides "
                     "the run's settings (--run) or the solver's defaults")
    rec.add_argument("--run", metavar="RUN_DIR",
                     help="a finished run's scenario folder, results/<run>/<scenario>: the "
                     "method's settings from its config, and its trained network, support "
                     "selection, denoiser or training set (required by methods that need them)")
    _add_plugin_option(rec)
    rec.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                     help="torch device (default auto: CUDA if available)")
    rec.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, metavar="K",
                     help=f"images per batch (default {DEFAULT_CHUNK}; results do not "
                     "depend on it)")
    rec.set_defaults(handler=_cmd_reconstruct)

    score = commands.add_parser(
        "score", help="symmetry-adjusted MSE of reconstructions against true objects",
        description="Symmetry-adjusted relative MSE (min over global phase, scale, "
        "circular shift and conjugate flip; paper, Appendix A.1) of each reconstruction "
        "against its true object, and the mean. Prints one line per image at full "
        "precision and the mean at 3 decimals (as in the tables), or JSON (--json).")
    score.add_argument("truth", metavar="TRUTH.npy",
                       help="true objects, (n, n) or (B, n, n), real or complex")
    score.add_argument("recon", metavar="RECON.npz",
                       help="output of prbench reconstruct: x_hat (B, m, m) or (B, n, n)")
    score.add_argument("--n", type=int, help="object frame side (default: TRUTH's side); "
                       "a larger TRUTH must be zero outside its top-left n x n frame")
    score.add_argument("--json", action="store_true",
                       help="print {truth, recon, n, m, mse: [...], mean} as JSON")
    score.set_defaults(handler=_cmd_score)

    docs = commands.add_parser(
        "docs", add_help=False, help="regenerate (or --check) the result tables of README.md "
        "and docs/ from the committed reference results",
        description="prbench docs [--check] [--root DIR] [FILES]: prbench.report.docs.")
    docs.add_argument("arguments", nargs="*",
                      help="arguments of python -m prbench.report.docs (--help for them)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``prbench`` command with ``argv`` (default: sys.argv[1:]); the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["docs"]:  # its options are the docs module's own
        from .report import docs

        return docs.main(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or argparse's own usage error (status 2)
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        return args.handler(args)
    except _errors() as error:
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"prbench: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
