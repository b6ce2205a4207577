"""The validation images of a run, exactly as the workflow holds them out.

Every network of a scenario trains on its synthesized ``train`` split
(``results/<run>/<scenario>/data/train.npz``, rule ``synthesize``) except for the last
``training.validation_fraction`` of it (:func:`prbench.data.synth.validation_size`), on
which it is validated; the support selection scores the first images of that hold-out.
Settings chosen on validation data (the benchmark choosers, never the test split) take
the same images: :func:`validation_set`.

A photon-limited scenario's validation measurements are the noisy ones its networks were
validated on: the run's own ``data/train.npz`` where it exists (loaded, never synthesized
again, and checked against the config), else the split synthesized as the workflow's
rule does (:func:`prbench.data.synth.synthesize` with the scenario's synthesis settings,
photons included: the same draws, so the same noise).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import scenario_synthesis
from ..geometry import Geometry
from . import fashion_mnist, synth

__all__ = ["ValidationImages", "hold_out", "scenario_of", "training_split", "validation_set"]

#: The synthesis keys of a scenario that are keyword arguments of
#: :func:`prbench.data.synth.synthesize` (and keys of the split's meta): config key -> name.
_ARGUMENTS = {"object": "object_kind", "phase_smoothing_px": "phase_smoothing_px",
              "phase_std_rad": "phase_std_rad", "photons": "photons"}


@dataclass(frozen=True)
class ValidationImages:
    """The first images of a train split's validation hold-out.

    x: (k, n, n) complex64 objects; y: (k, m, m) float32 measurements (noisy in a
    photon-limited scenario); indices: (k,) their indices in the train split (the seeds of
    :func:`prbench.methods.reconstruct` derive from them); geometry: the split's (n, m);
    training_size: the images before the hold-out (the part the networks train on);
    held_out: the hold-out's size; photons: the split's expected photons per image
    (None: noiseless); origin: where the split came from, for a record.
    """

    x: np.ndarray
    y: np.ndarray
    indices: np.ndarray
    geometry: Geometry
    training_size: int
    held_out: int
    photons: float | None
    origin: str


def hold_out(data: synth.SynthesizedSet, fraction: float, count: int | None = None, *,
             origin: str = "the train split") -> ValidationImages:
    """The first ``count`` images (None: all) of the validation hold-out of the train split
    ``data``: its last ``fraction`` (:func:`prbench.data.synth.validation_size`). x and y
    are views of ``data``'s arrays. Raises ValueError if the hold-out has fewer than
    ``count`` images."""
    size = len(data.x)
    held_out = synth.validation_size(size, fraction)
    count = held_out if count is None else count
    if not 1 <= count <= held_out:
        raise ValueError(f"{count} validation images asked for: the hold-out of {origin} "
                         f"(the last {fraction} of {size} images) has {held_out}")
    first = size - held_out
    return ValidationImages(x=data.x[first:first + count], y=data.y[first:first + count],
                            indices=np.arange(first, first + count), geometry=data.geometry,
                            training_size=first, held_out=held_out,
                            photons=data.meta.get("photons"), origin=origin)


def scenario_of(config: dict[str, Any], scenario: str | None = None,
                run: str | Path | None = None) -> str:
    """The scenario meant: ``scenario`` if given, else the name of the ``run`` folder
    (``results/<run>/<scenario>``) if it is one of the config's scenarios, else the
    config's first scenario."""
    if scenario is not None:
        scenario_synthesis(config, scenario)  # refuses an unknown name
        return scenario
    if run is not None and Path(run).name in config["scenarios"]:
        return Path(run).name
    return next(iter(config["scenarios"]))


def _synthesis_arguments(settings: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`prbench.data.synth.synthesize` that a scenario's
    synthesis settings give (a key a config leaves out: the function's default, which is
    the schema's)."""
    defaults = inspect.signature(synth.synthesize).parameters
    return {name: settings.get(key, defaults[name].default) for key, name in _ARGUMENTS.items()}


def _check_recorded(data: synth.SynthesizedSet, path: Path, config: dict[str, Any],
                    scenario: str, settings: dict[str, Any]) -> None:
    """Refuse a run's train split that the config's scenario would not synthesize."""
    expected = {"seed": config["seed"], "n": settings["n"], "m": settings["m"],
                **_synthesis_arguments(settings)}
    recorded = {key: data.meta.get(key) for key in expected}
    expected["images"], recorded["images"] = settings["train_size"], len(data.x)
    differ = [f"{key} {recorded[key]!r} (the config: {expected[key]!r})"
              for key in expected if recorded[key] != expected[key]]
    if differ:
        raise ValueError(f"{path} does not hold scenario {scenario!r} of this config: "
                         + ", ".join(differ) + "; give the config the run was made with")


def training_split(config: dict[str, Any], *, scenario: str | None = None,
                   run: str | Path | None = None, fashion: str | Path | None = None
                   ) -> tuple[synth.SynthesizedSet, str]:
    """The train split of a scenario (:func:`scenario_of`) of the workflow config
    ``config``, and where it came from: ``<run>/data/train.npz`` if it exists (checked
    against the scenario's synthesis settings), else synthesized from the decoded
    Fashion-MNIST ``fashion`` as the rule ``synthesize`` does (photons included)."""
    scenario = scenario_of(config, scenario, run)
    settings = scenario_synthesis(config, scenario)
    path = None if run is None else Path(run) / "data" / "train.npz"
    if path is not None and path.exists():
        data = synth.load(path)
        _check_recorded(data, path, config, scenario, settings)
        return data, str(path)
    if fashion is None:
        raise ValueError(f"no {path or 'run folder'} to read the train split of scenario "
                         f"{scenario!r} from, and no Fashion-MNIST source to synthesize it")
    source = fashion_mnist.load(fashion)
    data = synth.synthesize(source.train_images, source.train_labels, settings["train_size"],
                            seed=config["seed"], split="train",
                            geometry=Geometry(settings["n"], settings["m"]),
                            **_synthesis_arguments(settings))
    return data, (f"the `train` split of scenario {scenario} (seed {config['seed']}), "
                  "synthesized as the workflow does")


def validation_set(config: dict[str, Any], *, count: int | None = None,
                   scenario: str | None = None, run: str | Path | None = None,
                   fashion: str | Path | None = None) -> ValidationImages:
    """The first ``count`` (None: all) validation images of a scenario's train split
    (:func:`training_split`), held out as the workflow does
    (``config["training"]["validation_fraction"]``, :func:`hold_out`)."""
    data, origin = training_split(config, scenario=scenario, run=run, fashion=fashion)
    return hold_out(data, config["training"]["validation_fraction"], count, origin=origin)
