"""Constants shared by every layer; defined once here (the lowest layer that needs them)."""

IGNORE_INDEX: int = 255
"""Label value of pixels that carry no class (void, margins, unlabelled)."""
