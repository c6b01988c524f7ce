"""One exception type for every user-facing problem.

The CLI turns a `WamError` into a single line on stderr and a non-zero exit, so the message must
name the problem and, where there is one, the valid choices or the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class WamError(Exception):
    """A problem with the user's input, files or configuration (never a bug in wam)."""


def unknown_choice(kind: str, name: str, valid: Iterable[str]) -> WamError:
    """An error for an unknown name that suggests the closest valid ones."""
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    shown = ", ".join(valid) if len(valid) <= 12 else ", ".join(valid[:12]) + f", ... ({len(valid)} in all)"
    return WamError(f"unknown {kind} '{name}'{hint}; valid: {shown}")


def require(condition: bool, message: str) -> None:
    """Raise a WamError with `message` unless `condition` holds (used for config validation)."""
    if not condition:
        raise WamError(message)


def parse_pairs(items: Iterable[str], bad: str, last: bool = False) -> list[tuple[str, str]]:
    """`name=value` strings from the command line -> [(name, value)], stripped, in order.

    An item without '=' or without a name raises WamError(bad.format(item=item)). last=True splits
    at the last '=', for names that may contain one themselves (an instruction naming a task)."""
    pairs = []
    for item in items:
        name, sep, value = item.rpartition("=") if last else item.partition("=")
        require(bool(sep) and bool(name.strip()), bad.format(item=item))
        pairs.append((name.strip(), value.strip()))
    return pairs
