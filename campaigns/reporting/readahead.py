"""Reading a large query ahead in a thread, so PostgreSQL produces the next rows while this
process formats the last ones (a server-side cursor otherwise leaves one of them idle at a time).

The thread has its own database connection (Django's are per thread) and so its own
transaction: only for reads that need not see the caller's uncommitted writes.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

from django.db import connection, transaction

# Chunks waiting for the consumer at most: memory stays a few chunks whatever the query's size.
QUEUE_CHUNKS = 4
_END = object()


def read_ahead(rows: Callable[[], Iterable[tuple]], chunk_size: int) -> Iterator[tuple]:
    """The rows ``rows()`` yields when iterated in another thread, inside a transaction there
    (on PostgreSQL, a server-side cursor declared WITHOUT HOLD streams), ``chunk_size`` at a time.
    An error in the thread is raised here; closing this generator early stops the thread."""
    chunks: queue.Queue = queue.Queue(maxsize=QUEUE_CHUNKS)
    stop = threading.Event()

    def put(item) -> None:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read() -> None:
        try:
            # PostgreSQL: a transaction, so a server-side cursor streams (WITHOUT HOLD). SQLite
            # would take its write lock for it (IMMEDIATE transactions), and needs none to read.
            postgres = connection.vendor == "postgresql"
            with transaction.atomic() if postgres else contextlib.nullcontext():
                it = iter(rows())
                while not stop.is_set() and (chunk := list(islice(it, chunk_size))):
                    put(chunk)
            put(_END)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)
        finally:
            connection.close()  # this thread's connection

    reader = threading.Thread(target=read, name="read-ahead", daemon=True)
    reader.start()
    try:
        while (chunk := chunks.get()) is not _END:
            if isinstance(chunk, BaseException):
                raise chunk
            yield from chunk
    finally:
        stop.set()
        reader.join()
