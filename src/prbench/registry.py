"""The method registry as pure data (no torch): what each method is and what it needs.

Adding a built-in method is one :class:`Method` entry in :data:`METHODS` (plus its solver,
a function decorated with :func:`prbench.solvers.solver` in a module of
:mod:`prbench.solvers`, if it is new) and its settings in a config. A method from outside
the repository is registered by a plugin module (:func:`register`, loaded by
:func:`load_plugins` from the config key ``plugins`` or the entry-point group
:data:`ENTRY_POINT_GROUP`). The workflow plans, reconstructs, scores and tabulates every
method of the config's ``reconstruction.methods`` from this table: a method's ``kind``
selects its executor (:mod:`prbench.methods`) and what its reconstruction job reads
(:meth:`Method.needs`), and nothing else in the rules names a method. Importable without
torch, so that planning a run (``snakemake -n``) needs none.

The solver contract (built-in and plugin alike)::

    solver(Y, support=None, init=None, *, seed, geometry, **params) -> (X_hat, info)

Y: (B, m, m) float32 torch intensities ``|F pad(x, m)|^2`` (unnormalised DFT, zero
frequency at [0, 0]); support: None (the n x n top-left frame) or a (B, m, m) bool mask;
init: None (random starts) or a (B, m, m) complex64 start; seed: a list of B ints, one
per image; geometry: :class:`prbench.geometry.Geometry` (n, m); params: the method's
settings from the config. X_hat: (B, m, m) complex torch tensor on Y's device, finite;
info: a :class:`prbench.solvers.SolverInfo`, or None (or a dict) for a plugin solver,
whose residual is then computed from X_hat. A solver that accepts a ``stopping``
keyword also gets the config's convergence test.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import sys
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

__all__ = ["ENTRY_POINT_GROUP", "GROUP_TITLES", "KINDS", "METHODS", "Method", "PAPER_ORDER",
           "PAPER_TABLE1", "PLUGINS", "PLUGINS_VARIABLE", "PluginError", "RESERVED_PARAMETERS",
           "SUPERVISED_MODELS", "SUPPORT_SELECTORS", "load_plugins",
           "load_plugins_from_environment", "parameter_problem", "parameter_schema",
           "plugin_solver", "register"]

#: Row groups of Table 1, in table order.
GROUP_TITLES = {
    "paper": "Methods compared in the paper",
    "beyond": "Not compared in the paper: support-free baselines and controls",
    "learned": "Not in the paper: learned starts with shrink-wrap, symmetry-aware training",
    "plugin": "Methods from plugins (outside the repository)",
    "reference": "Reference only: uses knowledge the paper's methods do not (object real, >= 0)",
    "calibration": "Calibration: one constant prediction for every image, measurements unused",
}

#: What a method is; each kind has one executor in :mod:`prbench.methods`.
KINDS = {
    "iterative": "a solver from random starts; needs nothing trained",
    "network": "a trained U-Net's output as it is",
    "refined": "a solver with the support selected on its U-Net's output, started from that "
               "output (start 'output') or from random phases (start 'random')",
    "prdeep": "a solver that takes the trained denoiser (prDeep)",
    "calibration": "the mean object of the training split for every image",
}
#: The entry-point group whose modules :func:`load_plugins` imports (installed plugins).
ENTRY_POINT_GROUP = "prbench.methods"
#: The environment variable through which the workflow hands its jobs the config's
#: plugins (a JSON list of module names; :func:`load_plugins_from_environment`).
PLUGINS_VARIABLE = "PRBENCH_PLUGINS"

#: The U-Nets trained on the true objects, each named after its objective
#: (:func:`prbench.train.losses.supervised_loss`): "naive" on the objects as synthesized
#: (paper, Sec. 2.1), "canonical" on their symmetry-broken representatives
#: (:func:`prbench.symmetry.canonical_form`), "invariant" with the distance to the
#: nearest symmetric copy as the loss. The fourth U-Net, "passive", sees Y alone.
SUPERVISED_MODELS = ("naive", "canonical", "invariant")


@dataclass(frozen=True)
class Method:
    """One reconstruction method.

    name: registry key, used in file names (the solver of a plugin's method is registered
    under it); label: display name in tables; group: a key of :data:`GROUP_TITLES`;
    kind: a key of :data:`KINDS`, which selects the executor; solver: the solver's name
    (:data:`prbench.solvers.SOLVERS`, or a plugin's), required unless the kind is
    "network" or "calibration"; model: the trained U-Net ("passive" or one of
    :data:`SUPERVISED_MODELS`) whose output a "network" or "refined" method uses; start:
    "output" (a "refined" method starts from the network output) or "random"; fixed:
    solver keyword arguments that define the method and are not configurable; plugin:
    the module that registered it (None: built in).
    """

    name: str
    label: str
    group: str
    kind: str
    solver: str | None = None
    model: str | None = None
    start: str = "random"
    fixed: dict[str, Any] = field(default_factory=dict)
    plugin: str | None = None

    def __post_init__(self) -> None:
        problem = None
        if self.group not in GROUP_TITLES:
            problem = f"group must be one of {list(GROUP_TITLES)}"
        elif self.kind not in KINDS:
            problem = f"kind must be one of {list(KINDS)}"
        elif (self.solver is None) != (self.kind in ("network", "calibration")):
            problem = (f"a {self.kind!r} method " + ("takes no solver" if self.solver
                                                      else "needs a solver"))
        elif (self.model is None) == (self.kind in ("network", "refined")):
            problem = (f"a {self.kind!r} method " + ("needs a model" if self.model is None
                                                      else "takes no model"))
        elif self.start not in ("random", "output") or (
                self.start == "output" and self.kind != "refined"):
            problem = "start must be 'random', or 'output' for a 'refined' method"
        elif self.fixed and self.solver is None:
            problem = "fixed solver parameters need a solver"
        if problem:
            raise ValueError(f"method {self.name!r}: {problem}")

    @property
    def needs_support(self) -> bool:
        """The method takes its support from its network's output (kind "refined")."""
        return self.kind == "refined"

    @property
    def source(self) -> str:
        """Where the method comes from: "prbench" or its plugin's module."""
        return self.plugin or "prbench"

    def needs(self) -> dict[str, str]:
        """What a reconstruction job needs beside the test set, role -> run-relative file:
        "network" (``models/<model>/best.pt``), "support" (``support/<model>.json``, the
        support selection of its model), "denoiser" (``models/denoiser/best.pt``),
        "training_set" (``data/train.npz``)."""
        return ({"network": f"models/{self.model}/best.pt"} if self.model else {}) | (
            {"support": f"support/{self.model}.json"} if self.needs_support else {}) | (
            {"denoiser": "models/denoiser/best.pt"} if self.kind == "prdeep" else {}) | (
            {"training_set": "data/train.npz"} if self.kind == "calibration" else {})


def _iterative(name: str, label: str, group: str, solver: str, **fixed: Any) -> Method:
    return Method(name, label, group, "iterative", solver, fixed=fixed)


def _network(name: str, label: str, group: str, model: str) -> Method:
    return Method(name, label, group, "network", model=model)


def _refined(name: str, label: str, group: str, solver: str, model: str,
             start: str = "output") -> Method:
    return Method(name, label, group, "refined", solver, model, start)


METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        _iterative("alm", "ALM", "paper", "alm"),
        _iterative("hio", "HIO", "paper", "hio"),
        _network("passive_dnn", "Passive DNN", "paper", "passive"),
        _refined("passive_refined", "Passive Refined", "paper", "alm", "passive"),
        _network("naive_dnn", "Naive DNN", "paper", "naive"),
        _refined("naive_refined", "Naive Refined", "paper", "alm", "naive"),
        Method("prdeep", "prDeep", "paper", "prdeep", "prdeep"),
        _iterative("hio_sw", "HIO shrink-wrap", "beyond", "hio_sw"),
        _iterative("raar_sw", "RAAR shrink-wrap", "beyond", "raar_sw"),
        _iterative("dm", "Difference map", "beyond", "dm"),
        _iterative("dm_sw", "Difference map shrink-wrap", "beyond", "dm_sw"),
        _iterative("alm_lbfgs", "ALM, L-BFGS subproblems", "beyond", "alm_lbfgs"),
        _refined("passive_support_only", "Passive support, random start", "beyond", "alm",
                 "passive", start="random"),
        _refined("naive_support_only", "Naive support, random start", "beyond", "alm",
                 "naive", start="random"),
        # Shrink-wrap from the network: its output is the start and its selected support
        # the initial support, which shrink-wrap then updates (hio_sw's settings).
        _refined("passive_sw", "Passive start, shrink-wrap", "learned", "hio_sw", "passive"),
        _refined("naive_sw", "Naive start, shrink-wrap", "learned", "hio_sw", "naive"),
        _network("canonical_dnn", "Canonical DNN", "learned", "canonical"),
        _refined("canonical_refined", "Canonical Refined", "learned", "alm", "canonical"),
        _refined("canonical_sw", "Canonical start, shrink-wrap", "learned", "hio_sw",
                 "canonical"),
        _network("invariant_dnn", "Invariant-loss DNN", "learned", "invariant"),
        _refined("invariant_refined", "Invariant-loss Refined", "learned", "alm", "invariant"),
        _refined("invariant_sw", "Invariant-loss start, shrink-wrap", "learned", "hio_sw",
                 "invariant"),
        _iterative("hio_realpos", "HIO real>=0 (ref.)", "reference", "hio",
                   real_nonnegative=True),
        Method("mean_object", "Mean training object", "calibration", "calibration"),
    )
}

#: Model -> the method whose reconstruction selects that model's support on the validation
#: split (its solver settings, its start); every method of the model with a solver uses
#: that selection (``support/<model>.json``).
SUPPORT_SELECTORS = {"naive": "naive_refined", "passive": "passive_refined",
                     "canonical": "canonical_refined", "invariant": "invariant_refined"}


def _check_support_selectors() -> None:
    for model, name in SUPPORT_SELECTORS.items():
        if name not in METHODS or METHODS[name].model != model or not METHODS[name].needs_support:
            raise ValueError(f"SUPPORT_SELECTORS[{model!r}] = {name!r} is not a registered "
                             f"method with model {model!r} and a solver")
    unselected = sorted(method.name for method in METHODS.values()
                        if method.needs_support and method.model not in SUPPORT_SELECTORS)
    if unselected:
        raise ValueError(f"methods {unselected} need a support, but their model has no entry "
                         "in SUPPORT_SELECTORS")


_check_support_selectors()

#: Paper, Table 1: mean symmetry-adjusted MSE on the Fashion-MNIST test set.
PAPER_TABLE1 = {
    "alm": 0.312, "hio": 0.441, "passive_dnn": 0.266, "passive_refined": 0.187,
    "naive_dnn": 0.492, "naive_refined": 0.397, "prdeep": 0.412,
}
#: Order of the paper's rows.
PAPER_ORDER = ["alm", "hio", "passive_dnn", "passive_refined", "naive_dnn", "naive_refined",
               "prdeep"]


class PluginError(RuntimeError):
    """A plugin could not be loaded or registered something invalid; the message names the
    plugin (and the method)."""


#: Loaded plugins, module name -> provenance: its version (of the distribution that ships
#: it, if any), file, the file's SHA-256 and the methods it registered.
PLUGINS: dict[str, dict[str, Any]] = {}
#: Solvers registered by plugins, by name (the built-in ones are prbench.solvers.SOLVERS).
_PLUGIN_SOLVERS: dict[str, Callable[..., Any]] = {}
#: JSON Schemas of the parameters of plugins' solvers, by solver name.
_PLUGIN_SCHEMAS: dict[str, dict[str, Any]] = {}
#: The plugin module being imported by load_plugins (None: a direct call of register()).
_loading: list[str] = []


def register(method: Method, solver: Callable[..., Any] | None = None, *,
             parameters: dict[str, Any] | None = None) -> Method:
    """Register a plugin's ``method`` (call it at the plugin module's import).

    solver: the method's own solver (the contract in this module's docstring), registered
    under ``method.solver``, which must then equal ``method.name`` and no built-in solver's
    name; None for a method on a built-in solver (e.g. a "refined" method with "alm").
    parameters: an optional JSON Schema (an object schema) of the own solver's parameters,
    checked against the config before a run starts; without it, the parameter names are
    checked against the solver's signature. Returns the registered method (its ``plugin``
    set: the module being loaded by :func:`load_plugins`, else the caller's module).
    Raises :class:`PluginError` for a name registered twice or a solver that is not its
    own or a built-in one (checked against the built-in solvers where they are imported;
    :func:`prbench.config.check` checks again before a run).
    """
    plugin = _loading[-1] if _loading else sys._getframe(1).f_globals.get("__name__", "?")
    where = f"plugin {plugin!r}, method {getattr(method, 'name', method)!r}"
    if not isinstance(method, Method):
        raise PluginError(f"plugin {plugin!r}: register() takes a prbench.registry.Method, "
                          f"not {type(method).__name__}")
    if method.name in METHODS:
        owner = METHODS[method.name].source
        raise PluginError(f"{where}: the name is already registered (by {owner})")
    built_in = getattr(sys.modules.get("prbench.solvers"), "SOLVERS", {})
    if solver is not None:
        if not callable(solver):
            raise PluginError(f"{where}: the solver must be callable")
        if method.solver != method.name:
            raise PluginError(f"{where}: a plugin's solver is registered under its method's "
                              f"name; set solver={method.name!r}")
        if method.name in built_in:
            raise PluginError(f"{where}: a built-in solver has this name; rename the method")
        _PLUGIN_SOLVERS[method.name] = solver
    elif method.solver is not None and (method.solver in _PLUGIN_SOLVERS
                                        or built_in and method.solver not in built_in):
        raise PluginError(f"{where}: solver {method.solver!r} is "
                          + ("another plugin's: pass solver= with the method's own"
                             if method.solver in _PLUGIN_SOLVERS else "not a built-in solver"))
    if parameters is not None:
        if not (isinstance(parameters, dict) and parameters.get("type", "object") == "object"):
            raise PluginError(f"{where}: parameters must be a JSON Schema of an object")
        if solver is None:
            raise PluginError(f"{where}: parameters describe the plugin's own solver; a "
                              "method on a built-in solver takes that solver's")
        _PLUGIN_SCHEMAS[method.solver] = parameters
    method = replace(method, plugin=plugin)
    METHODS[method.name] = method
    if plugin in PLUGINS:
        PLUGINS[plugin]["methods"].append(method.name)
    return method


#: Solver arguments that the executor sets (prbench.methods): no config may give them.
RESERVED_PARAMETERS = ("Y", "support", "init", "seed", "geometry", "stopping", "denoiser")


def parameter_problem(method: Method, params: dict[str, Any],
                      function: Callable[..., Any] | None = None) -> str | None:
    """Why ``params`` cannot be ``method``'s solver keyword arguments, or None: a method
    without a solver given any, a reserved name (:data:`RESERVED_PARAMETERS`), one of its
    fixed parameters, or (given its solver ``function``, unless that takes ``**params``) a
    name missing from the function's signature."""
    if method.solver is None:
        return (f"a {method.kind!r} method takes no parameters, got {sorted(params)}"
                if params else None)
    reserved = sorted(set(params) & set(RESERVED_PARAMETERS))
    if reserved:
        return (f"{reserved} may not be set: seeds come from the run seed, the frame from "
                "the run's geometry, the support from the support selection")
    fixed = sorted(set(params) & set(method.fixed))
    if fixed:
        return f"the method fixes {fixed}; remove them from its parameters"
    if function is None:
        return None
    signature = inspect.signature(function).parameters.values()
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in signature):
        return None
    accepted = {parameter.name for parameter in signature
                if parameter.kind in (inspect.Parameter.KEYWORD_ONLY,
                                      inspect.Parameter.POSITIONAL_OR_KEYWORD)}
    unknown = sorted(set(params) - accepted)
    if unknown:
        return (f"unknown parameter(s) {unknown}; its solver {method.solver!r} takes "
                f"{sorted(accepted - set(RESERVED_PARAMETERS))}")
    return None


def plugin_solver(name: str) -> Callable[..., Any] | None:
    """The solver a plugin registered as ``name``, or None."""
    return _PLUGIN_SOLVERS.get(name)


def parameter_schema(solver: str) -> dict[str, Any] | None:
    """The JSON Schema a plugin gave for ``solver``'s parameters, or None."""
    return _PLUGIN_SCHEMAS.get(solver)


def _provenance(module: Any) -> dict[str, Any]:
    """Version (of the installed distribution that ships the module, if any), file and
    SHA-256 of a plugin module."""
    file = getattr(module, "__file__", None)
    top = module.__name__.partition(".")[0]
    distributions = metadata.packages_distributions().get(top, [])
    version = getattr(module, "__version__", None)
    if version is None and distributions:
        version = metadata.version(distributions[0])
    digest = hashlib.sha256(Path(file).read_bytes()).hexdigest() if file else None
    return {"module": module.__name__, "version": version, "file": file, "sha256": digest,
            "methods": []}


def _entry_point_modules() -> list[str]:
    """Modules of the installed packages' entry points in :data:`ENTRY_POINT_GROUP`."""
    return [entry.value.partition(":")[0]
            for entry in metadata.entry_points(group=ENTRY_POINT_GROUP)]


def _forget(plugin: str) -> None:
    """Undo what a plugin that failed registered, so that no half-loaded plugin remains."""
    for name in PLUGINS.pop(plugin, {}).get("methods", []):
        METHODS.pop(name, None)
        _PLUGIN_SOLVERS.pop(name, None)
        _PLUGIN_SCHEMAS.pop(name, None)


def load_plugins(modules: list[str] | tuple[str, ...] = (), *,
                 entry_points: bool = True) -> dict[str, dict[str, Any]]:
    """Import each plugin module of ``modules`` (and, with ``entry_points``, of the
    installed packages' :data:`ENTRY_POINT_GROUP`), which registers its methods with
    :func:`register`. A module already loaded is skipped. Returns :data:`PLUGINS` for the
    modules asked for. Raises :class:`PluginError` naming the plugin when one fails to
    import or registers nothing."""
    if isinstance(modules, str) or not all(isinstance(name, str) for name in modules):
        raise PluginError(f"plugins must be a list of module names, not {modules!r}")
    wanted = list(dict.fromkeys([*modules, *(_entry_point_modules() if entry_points else [])]))
    for name in wanted:
        if name in PLUGINS:
            continue
        early = [method.name for method in METHODS.values() if method.plugin == name]
        if early and name in sys.modules:  # imported (and registered) before this call
            PLUGINS[name] = _provenance(sys.modules[name]) | {"methods": early}
            continue
        PLUGINS[name] = {"module": name, "methods": []}
        _loading.append(name)
        try:
            module = importlib.import_module(name)
        except Exception as error:  # anything the plugin's import raises
            _forget(name)
            if isinstance(error, PluginError):
                raise
            raise PluginError(f"plugin {name!r} failed to import: "
                              f"{type(error).__name__}: {error}") from error
        finally:
            _loading.pop()
        methods = PLUGINS[name]["methods"]
        PLUGINS[name] = _provenance(module) | {"methods": methods}
        if not methods:
            _forget(name)
            raise PluginError(f"plugin {name!r} registered no method (call "
                              "prbench.registry.register at its import)")
    return {name: PLUGINS[name] for name in wanted}


def load_plugins_from_environment() -> dict[str, dict[str, Any]]:
    """:func:`load_plugins` of the modules listed in ``$PRBENCH_PLUGINS``
    (:data:`PLUGINS_VARIABLE`, set by the workflow for its jobs; unset: none but the
    entry points)."""
    text = os.environ.get(PLUGINS_VARIABLE, "[]")
    try:
        modules = json.loads(text)
    except json.JSONDecodeError as error:
        raise PluginError(f"${PLUGINS_VARIABLE} = {text!r} is not a JSON list of module "
                          f"names: {error}") from error
    return load_plugins(modules)
