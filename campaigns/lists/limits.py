"""The import's limits, from settings read at call time, and the words that refuse a file.

Each limit stops the work before it is done, with a message naming the limit and its setting:

- ``TGC_IMPORT_MAX_BYTES``: the file's size, checked before it is read (an upload is cut off by
  :class:`campaigns.lists.uploads.LimitedUploadHandler` while it arrives);
- ``TGC_IMPORT_MAX_ROWS``: data rows; the import stops at the first row over it;
- ``TGC_IMPORT_MAX_CELL_CHARS``: characters in one cell; a longer cell makes its row invalid, and
  a workbook holding one is refused before it is decompressed;
- ``TGC_IMPORT_MAX_UNCOMPRESSED_BYTES``: what a zip workbook (XLSX, ODS) expands to, from its zip
  directory, before anything is decompressed;
- ``TGC_IMPORT_INLINE_MAX_BYTES``: files up to this size are imported while the page waits;
  larger ones in a django-q2 worker, the list's page showing the progress.
"""

from __future__ import annotations

from dataclasses import dataclass

from tgcampaigns import conf

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 100 * MIB
    max_rows: int = 1_000_000
    max_cell_chars: int = 10_000
    max_uncompressed_bytes: int = 200 * MIB

    @classmethod
    def from_settings(cls) -> Limits:
        """The limits the settings give now (:mod:`tgcampaigns.conf`; the same defaults as above)."""
        return cls(
            max_bytes=conf.import_max_bytes(),
            max_rows=conf.import_max_rows(),
            max_cell_chars=conf.import_max_cell_chars(),
            max_uncompressed_bytes=conf.import_max_uncompressed_bytes(),
        )

    def too_large(self, size: int, *, at_least: bool = False) -> str:
        return (
            f"the file is {'more than ' if at_least else ''}{size_text(size)}; a recipient file may be at most {size_text(self.max_bytes)} "
            "(TGC_IMPORT_MAX_BYTES): split it, or save it as CSV, which is smaller"
        )

    def too_many_rows(self, about: int | None = None) -> str:
        rows = f"about {about:,} rows" if about is not None else f"more than {self.max_rows:,} rows"
        return (
            f"the file has {rows}; one list may hold at most {self.max_rows:,} "
            "(TGC_IMPORT_MAX_ROWS): split it into several lists"
        )

    def cell_too_long(self, length: int | None = None) -> str:
        if length is None:
            return (
                f"a cell holds more than {self.max_cell_chars:,} characters, the most one cell may "
                "hold (TGC_IMPORT_MAX_CELL_CHARS)"
            )
        return (
            f"a cell holds {length:,} characters; one cell may hold at most {self.max_cell_chars:,} "
            "(TGC_IMPORT_MAX_CELL_CHARS)"
        )

    def expands_too_much(self, size: int) -> str:
        return (
            f"the workbook expands to {size_text(size)}; an XLSX file may expand to at most "
            f"{size_text(self.max_uncompressed_bytes)} (TGC_IMPORT_MAX_UNCOMPRESSED_BYTES): save it as CSV"
        )


def inline_max_bytes() -> int:
    """Files up to this size are imported in the request; larger ones in a worker."""
    return conf.import_inline_max_bytes()


def size_text(size: int) -> str:
    if size >= MIB:
        return f"{size / MIB:,.1f} MiB"
    return f"{size / 1024:,.0f} KiB" if size >= 1024 else f"{size} bytes"
