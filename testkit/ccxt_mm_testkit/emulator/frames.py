"""Books to drive an emulated exchange with: the top levels of a real recording after each
of its book updates."""

from __future__ import annotations

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.market.events import EventLog, MsgKind

Frame = tuple[list[tuple[float, float]], list[tuple[float, float]]]
"""(bids best first, asks best first) as (price, base quantity)."""


def book_frames(log: EventLog, depth: int, limit: int) -> list[Frame]:
    """The top ``depth`` levels a side after each of the first ``limit`` updates of ``log``
    that leave a two-sided book (a snapshot restarts the book)."""
    book = GridBook(log.prices)
    frames: list[Frame] = []
    for m in range(log.messages):
        kind = log.msg_kind[m]
        if kind == MsgKind.SNAPSHOT:
            book.clear()
        if kind not in (MsgKind.SNAPSHOT, MsgKind.DIFF):
            continue
        log.apply_message(book, m)
        if book.ready:
            frames.append((list(zip(*book.top_bids(depth), strict=True)), list(zip(*book.top_asks(depth), strict=True))))
            if len(frames) == limit:
                break
    return frames
