"""Pixel learning core: entropy, partition, prototypes, adaptive selection, drift alignment.

Imports torch only (DESIGN.md section 1).
"""

from pixl.core.constants import IGNORE_INDEX

__all__ = ["IGNORE_INDEX"]
