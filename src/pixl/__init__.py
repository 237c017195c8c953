"""pixl: pixel learning (PiXL) for semantic segmentation."""

__version__ = "0.1.0"
