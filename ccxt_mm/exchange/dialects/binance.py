"""Binance spot, USDⓈ-M and COIN-M: a spot amend is a cancel-replace (``order.cancelReplace``)
under a new order id, a futures amend (``PUT order``) keeps the id and sets the order's total
size; the book stream takes fixed depths; no cancel-all-after switch in ccxt; a futures account
states its wallet (``walletBalance``) apart from its unrealized PnL."""

from ccxt_mm.exchange.dialects import Dialect


def swap_wallet(balance: dict, settle: str) -> float | None:
    """``walletBalance`` of ``settle`` in the futures account's ``assets`` (None: absent)."""
    assets = (balance.get("info") or {}).get("assets") or []
    found = next((a.get("walletBalance") for a in assets if isinstance(a, dict) and a.get("asset") == settle), None)
    return None if found is None else float(found)


DIALECT = Dialect(
    name="binance",
    book_depths=(5, 10, 20, 50, 100, 500, 1000, 5000),
    amend_replaces=True,
    # ccxt maps futures' -5022 (a post-only that would take) to OrderNotFillable
    swap={"amend_replaces": False, "amend_sets_total_size": True, "post_only_refusal": "the Post Only order will be rejected"},
    swap_wallet=swap_wallet,
)
