"""Problem geometry: the object frame and the oversampled Fourier grid, as one value.

torch is imported lazily (in :meth:`Geometry.frame_mask`), so that the workflow
planner can import this module without it.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["Geometry", "check_geometry", "check_int"]


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """``value`` as a plain int. ValueError naming ``name`` unless it is an integer
    (Python or NumPy; not a bool, not a float such as 36.0) and >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Geometry:
    """n: side of the zero frame holding the object (pixels); m: side of the
    oversampled Fourier grid (pixels). The object sits at the top-left of the
    m x m grid. Fourier PR needs m >= 2n - 1 (paper, Sec. 3; the paper: n = 36, m = 72).
    n and m are integers (NumPy integers are converted to int); anything else, a bool
    or a float such as 36.0 included, raises a ValueError naming it.
    """

    n: int
    m: int

    def __post_init__(self) -> None:
        n, m = self.n, self.m
        try:  # NumPy integers are stored as plain ints
            object.__setattr__(self, "n", check_int("n", n, minimum=1))
            object.__setattr__(self, "m", check_int("m", m))
            if self.m < 2 * self.n - 1:
                raise ValueError(f"m = {self.m} must be >= 2n - 1 = {2 * self.n - 1}, the "
                                 "oversampling Fourier phase retrieval needs (paper, Sec. 3)")
        except ValueError as error:
            raise ValueError(f"invalid geometry n = {n!r}, m = {m!r}: {error}") from None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Geometry:
        """The geometry of a run: ``config["synthesis"]["n"]`` and ``["m"]``."""
        return cls(config["synthesis"]["n"], config["synthesis"]["m"])

    def frame_mask(self, device: torch.device | str | None = None) -> torch.Tensor:
        """(m, m) bool mask, True on the n x n frame at the top-left of the grid."""
        import torch

        mask = torch.zeros(self.m, self.m, dtype=torch.bool, device=device)
        mask[:self.n, :self.n] = True
        return mask

    def check_measurements(self, y: Any, name: str = "Y") -> None:
        """Raise ValueError unless ``y`` (tensor or array) ends in the (m, m) grid."""
        self._check_last_two(y, name, self.m, "m")

    def check_objects(self, x: Any, name: str = "x") -> None:
        """Raise ValueError unless ``x`` (tensor or array) ends in the (n, n) frame."""
        self._check_last_two(x, name, self.n, "n")

    def _check_last_two(self, a: Any, name: str, side: int, symbol: str) -> None:
        shape = tuple(getattr(a, "shape", ()))
        if shape[-2:] != (side, side):
            raise ValueError(f"{name} has shape {shape}; its last two dims must be "
                             f"({side}, {side}), the {symbol} of {self}")


def check_geometry(geometry: Any) -> Geometry:
    """Return ``geometry`` if it is a :class:`Geometry`, else raise a TypeError."""
    if not isinstance(geometry, Geometry):
        raise TypeError(f"geometry must be a prbench.geometry.Geometry(n, m), got "
                        f"{type(geometry).__name__} {geometry!r}")
    return geometry
