"""Binance spot: an amend is a cancel-replace (``order.cancelReplace``) under a new order id;
the book stream takes fixed depths; no cancel-all-after switch on spot."""

from ccxt_mm.exchange.dialects import Dialect

DIALECT = Dialect(
    name="binance",
    book_depths=(5, 10, 20, 50, 100, 500, 1000, 5000),
    amend_replaces=True,
)
