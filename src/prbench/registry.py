"""The method registry as pure data (no torch): what each method is and what it needs.

Adding a method is one :class:`Method` entry in :data:`METHODS` (plus its solver in
:mod:`prbench.solvers` if it is new). The workflow plans, reconstructs, scores and
tabulates every method of the config's ``reconstruction.methods`` from this table:
its reconstruction job's inputs (a trained network's weights, the denoiser's) come
from :func:`Method.needs`, and nothing else in the rules names a method.
Importable without torch, so that planning a run (``snakemake -n``) needs none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["GROUP_TITLES", "METHODS", "Method", "PAPER_ORDER", "PAPER_TABLE1",
           "SUPERVISED_MODELS", "SUPPORT_SELECTORS"]

#: Row groups of Table 1, in table order.
GROUP_TITLES = {
    "paper": "Methods compared in the paper",
    "beyond": "Not compared in the paper: support-free baselines and controls",
    "learned": "Not in the paper: learned starts with shrink-wrap, symmetry-aware training",
    "reference": "Reference only: uses knowledge the paper's methods do not (object real, >= 0)",
    "calibration": "Calibration: one constant prediction for every image, measurements unused",
}


#: The U-Nets trained on the true objects, each named after its objective
#: (:func:`prbench.train.losses.supervised_loss`): "naive" on the objects as synthesized
#: (paper, Sec. 2.1), "canonical" on their symmetry-broken representatives
#: (:func:`prbench.symmetry.canonical_form`), "invariant" with the distance to the
#: nearest symmetric copy as the loss. The fourth U-Net, "passive", sees Y alone.
SUPERVISED_MODELS = ("naive", "canonical", "invariant")


@dataclass(frozen=True)
class Method:
    """One reconstruction method.

    name: registry key, used in file names; label: display name in tables;
    group: a key of :data:`GROUP_TITLES`: "paper" (compared in the paper's Table 1),
    "beyond" (support-free baselines and controls the paper did not run), "learned"
    (learned methods beyond the paper), "reference" (uses prior knowledge the paper's
    methods do not: a reference point only) or "calibration". solver: key into
    :data:`prbench.solvers.SOLVERS`, or None for a network's output taken as it is.
    model: the trained U-Net ("passive" or one of :data:`SUPERVISED_MODELS`) whose output
    the method uses, or None. start: "output" starts
    the solver from the network output, "random" from random phases. A method
    with a model and a solver estimates its support from the network output
    (paper, Sec. 2.2), with the smoothing and threshold selected on the
    validation split for its model (:data:`SUPPORT_SELECTORS`). denoiser: the
    solver takes the trained denoiser (prDeep). mean_object: the method predicts
    the mean object of the training split for every image (no solver, no model):
    the calibration row, the level a method that learned nothing from Y reaches.
    fixed: solver keyword arguments that define the method and are not configurable.
    """

    name: str
    label: str
    group: str
    solver: str | None
    model: str | None = None
    start: str = "random"
    denoiser: bool = False
    mean_object: bool = False
    fixed: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.group not in GROUP_TITLES:
            raise ValueError(f"method {self.name!r}: group must be one of {list(GROUP_TITLES)}")
        if self.mean_object and (self.solver or self.model or self.denoiser or self.fixed):
            raise ValueError(f"method {self.name!r}: the mean-object prediction takes no "
                             "solver, model, denoiser or fixed parameters")
        if (self.solver is None and not self.mean_object
                and (self.model is None or self.denoiser or self.fixed)):
            raise ValueError(f"method {self.name!r}: without a solver it is a network's output "
                             "and needs a model, and no denoiser or fixed parameters")
        if self.start not in ("random", "output") or (self.start == "output" and not self.model):
            raise ValueError(f"method {self.name!r}: start must be 'random', or 'output' with "
                             "a model")

    @property
    def needs_support(self) -> bool:
        """The method estimates its support from its network's output (model and solver)."""
        return self.model is not None and self.solver is not None

    def needs(self) -> dict[str, str]:
        """What a reconstruction job needs beside the test set, role -> run-relative file:
        "network" (``models/<model>/best.pt``), "support" (``support/<model>.json``, the
        support selection of its model), "denoiser" (``models/denoiser/best.pt``),
        "training_set" (``data/train.npz``)."""
        return ({"network": f"models/{self.model}/best.pt"} if self.model else {}) | (
            {"support": f"support/{self.model}.json"} if self.needs_support else {}) | (
            {"denoiser": "models/denoiser/best.pt"} if self.denoiser else {}) | (
            {"training_set": "data/train.npz"} if self.mean_object else {})


METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method("alm", "ALM", "paper", "alm_split"),
        Method("hio", "HIO", "paper", "hio"),
        Method("passive_dnn", "Passive DNN", "paper", None, "passive"),
        Method("passive_refined", "Passive Refined", "paper", "alm_split", "passive", "output"),
        Method("naive_dnn", "Naive DNN", "paper", None, "naive"),
        Method("naive_refined", "Naive Refined", "paper", "alm_split", "naive", "output"),
        Method("prdeep", "prDeep", "paper", "prdeep", denoiser=True),
        Method("hio_sw", "HIO shrink-wrap", "beyond", "hio_sw"),
        Method("raar_sw", "RAAR shrink-wrap", "beyond", "raar_sw"),
        Method("dm", "Difference map", "beyond", "dm"),
        Method("dm_sw", "Difference map shrink-wrap", "beyond", "dm_sw"),
        Method("alm_lbfgs", "ALM, L-BFGS subproblems", "beyond", "alm"),
        Method("passive_support_only", "Passive support, random start", "beyond", "alm_split",
               "passive"),
        Method("naive_support_only", "Naive support, random start", "beyond", "alm_split",
               "naive"),
        # Shrink-wrap from the network: its output is the start and its selected support
        # the initial support, which shrink-wrap then updates (hio_sw's settings).
        Method("passive_sw", "Passive start, shrink-wrap", "learned", "hio_sw", "passive",
               "output"),
        Method("naive_sw", "Naive start, shrink-wrap", "learned", "hio_sw", "naive", "output"),
        Method("canonical_dnn", "Canonical DNN", "learned", None, "canonical"),
        Method("canonical_refined", "Canonical Refined", "learned", "alm_split", "canonical",
               "output"),
        Method("canonical_sw", "Canonical start, shrink-wrap", "learned", "hio_sw",
               "canonical", "output"),
        Method("invariant_dnn", "Invariant-loss DNN", "learned", None, "invariant"),
        Method("invariant_refined", "Invariant-loss Refined", "learned", "alm_split",
               "invariant", "output"),
        Method("invariant_sw", "Invariant-loss start, shrink-wrap", "learned", "hio_sw",
               "invariant", "output"),
        Method("hio_realpos", "HIO real>=0 (ref.)", "reference", "hio",
               fixed={"real_nonnegative": True}),
        Method("mean_object", "Mean training object", "calibration", None, mean_object=True),
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
