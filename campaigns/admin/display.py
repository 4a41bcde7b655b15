"""Small display helpers shared by the admin pages."""

from __future__ import annotations


def file_size(size: int) -> str:
    """``size`` bytes for people: "193 bytes", "12.5 KiB", "3.4 MiB"."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"
