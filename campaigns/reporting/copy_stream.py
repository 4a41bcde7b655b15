"""Streaming PostgreSQL's ``COPY (…) TO STDOUT WITH CSV`` to a reader in constant memory.

psycopg2's ``copy_expert`` writes the rows to a file object until the query ends; it runs in a
thread with its own connection, writing into a pipe (a C-buffered file, so the per-row writes
cost no Python call), and the reader takes large chunks from the pipe's other end: the pipe's
capacity is the only buffer, so PostgreSQL waits when the reader (an HTTP client) is slow.
Closing the reader early breaks the pipe, which ends the ``COPY`` and the thread.

Inside a transaction (the caller's own writes must be seen, as in tests) the thread's connection
would not see them, so the ``COPY`` runs on this thread's connection into a spooled temporary
file first.

``COPY`` ends rows with ``\\n``; Python's ``csv`` (and RFC 4180) with ``\\r\\n``.
:class:`CrLf` turns the row ends into ``\\r\\n`` and leaves line breaks inside quoted values as
they are.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Generator

from django.db import connection

# Bytes the reader takes from the pipe at a time, and the writer's buffer before the pipe.
READ_SIZE = 1 << 18
WRITE_BUFFER = 1 << 16


class CrLf:
    """Turns the ``\\n`` ending each CSV record into ``\\r\\n`` in a stream of chunks, keeping
    ``\\n`` inside quoted values: a byte is inside quotes when an odd number of ``"`` came
    before it (a doubled ``""`` inside a value counts twice), carried from chunk to chunk."""

    def __init__(self) -> None:
        self.inside = False

    def __call__(self, chunk: bytes) -> bytes:
        if b'"' not in chunk:
            return chunk if self.inside else chunk.replace(b"\n", b"\r\n")
        parts = chunk.split(b'"')
        first = 1 if self.inside else 0
        parts[first::2] = [part.replace(b"\n", b"\r\n") for part in parts[first::2]]
        if len(parts) % 2 == 0:  # an odd number of quotes: the next chunk starts on the other side
            self.inside = not self.inside
        return b'"'.join(parts)


def copy_rows(sql: str) -> Generator[bytes, None, int]:
    """The output of ``COPY ({sql}) TO STDOUT WITH CSV`` in chunks of bytes (UTF-8), rows ending
    in ``\\r\\n``; returns the number of rows. ``sql``: a complete SELECT (no parameters).
    Raises what the query raises, at the end of the rows it produced. PostgreSQL only."""
    copy = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)"
    crlf = CrLf()
    chunks = _copied_here(copy) if connection.in_atomic_block else _copied_in_thread(copy)
    while True:
        try:
            yield crlf(next(chunks))
        except StopIteration as end:
            return end.value


def _copied_here(copy: str) -> Generator[bytes, None, int]:
    with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as spool:
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(copy, spool)
            rows = cursor.cursor.rowcount
        spool.seek(0)
        while chunk := spool.read(READ_SIZE):
            yield chunk
    return rows


def _copied_in_thread(copy: str) -> Generator[bytes, None, int]:
    read_end, write_end = os.pipe()
    failed: list[BaseException] = []
    copied: list[int] = []

    def run() -> None:
        try:
            with os.fdopen(write_end, "wb", buffering=WRITE_BUFFER) as pipe:
                with connection.cursor() as cursor:
                    cursor.cursor.copy_expert(copy, pipe)
                    copied.append(cursor.cursor.rowcount)
        except BrokenPipeError:
            pass  # the reader stopped early
        except BaseException as exc:  # handed to the reader, which raises it
            failed.append(exc)
        finally:
            connection.close()  # this thread's connection (left mid-COPY when the pipe broke)

    writer = threading.Thread(target=run, name="copy-out", daemon=True)
    writer.start()
    try:
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(READ_SIZE):
                yield chunk
    finally:
        writer.join()
    if failed:
        raise failed[0]
    return copied[0] if copied else 0
