"""The tests' synthetic objects: the library's phantoms (prbench.data.phantoms)."""

from prbench.data.phantoms import blob_objects, smooth_objects

__all__ = ["blob_objects", "smooth_objects"]
