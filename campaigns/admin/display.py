"""Small display helpers shared by the admin pages."""

from __future__ import annotations


def file_size(size: int) -> str:
    """``size`` bytes for people: "193 bytes", "12.5 KiB", "3.4 MiB", "100 MiB" (no decimal zero)."""
    if size < 1024:
        return f"{size} bytes"
    value, unit = (size / 1024, "KiB") if size < 1024 * 1024 else (size / 1024 / 1024, "MiB")
    return f"{value:,.1f}".removesuffix(".0") + f" {unit}"


def identity_refused(raw: str, error: str) -> str:
    """Why an identity typed on a page with no recipient list (a test, a seed list, a suppression)
    is refused: the validator's reason, except that a phone without a country code is asked for
    with one (there is no list whose default region would read it)."""
    from ..lists.normalise import outside_a_list

    return f"{raw.strip()!r}: {outside_a_list(error)}"


def fields_table(fields: dict | None) -> str:
    """A recipient's personalisation fields as a small table (column → value), not raw JSON."""
    from django.utils.html import format_html, format_html_join

    if not fields:
        return "—"
    rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", ((k, v) for k, v in fields.items()))
    return format_html('<table class="tgc-fields">{}</table>', rows)
