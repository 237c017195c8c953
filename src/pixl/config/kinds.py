"""The names of the dataset kinds a config may use, registered by the layer that describes them.

The config layer sits below ``pixl.data`` and cannot import it, yet a typo in ``data.*.kind``
should be a config error naming the key. So ``pixl.data.kinds`` registers each kind it describes
here when it is imported, and the schema checks ``kind`` against what is registered. Every
command that builds a dataset imports ``pixl.data`` before loading its config; a process that
never imports it has no kinds registered, and then ``kind`` is only checked to be a name (the
data layer checks it again when a dataset is built).
"""

from __future__ import annotations

_REGISTERED: dict[str, str] = {}


def register_dataset_kind(name: str, summary: str) -> None:
    """Make ``name`` a valid ``data.*.kind``; ``summary`` is its one-line description."""
    if not name.isidentifier():
        raise ValueError(f"dataset kind {name!r}: expected an identifier")
    _REGISTERED[name] = summary


def dataset_kinds() -> dict[str, str]:
    """Registered kind names (in registration order) and their summaries."""
    return dict(_REGISTERED)


def check_dataset_kind(name: str) -> str:
    """``name`` when registered (or when nothing is registered); ``ValueError`` listing the kinds."""
    if _REGISTERED and name not in _REGISTERED:
        raise ValueError(f"expected one of {', '.join(_REGISTERED)}")
    if not _REGISTERED and not name.isidentifier():
        raise ValueError("expected a dataset kind name")
    return name
