"""Small display helpers shared by the admin pages."""

from __future__ import annotations


def file_size(size: int) -> str:
    """``size`` bytes for people: "193 bytes", "12.5 KiB", "3.4 MiB"."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


def fields_table(fields: dict | None) -> str:
    """A recipient's personalisation fields as a small table (column → value), not raw JSON."""
    from django.utils.html import format_html, format_html_join

    if not fields:
        return "—"
    rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", ((k, v) for k, v in fields.items()))
    return format_html('<table class="tgc-fields">{}</table>', rows)
