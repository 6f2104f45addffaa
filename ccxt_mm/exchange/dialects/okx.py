"""OKX spot and perpetual swaps: an amend sets the order's total size; ccxt.pro builds pushed
trades from the orders channel with OKX's ``fillFee``, which OKX signs negative for a charge.
Swaps are ccxt's ``swap`` type (linear and inverse alike); one ``account/set-leverage`` call sets
a swap's leverage and margin mode; the trading account states a currency's wallet as ``cashBal``."""

from ccxt_mm.exchange.dialects import Dialect


def swap_wallet(balance: dict, settle: str) -> float | None:
    """``cashBal`` of ``settle`` in the trading account's ``details`` (None: absent)."""
    accounts = (balance.get("info") or {}).get("data") or [{}]
    details = (accounts[0] or {}).get("details") or []
    found = next((d.get("cashBal") for d in details if isinstance(d, dict) and d.get("ccy") == settle), None)
    return None if found in (None, "") else float(found)


DIALECT = Dialect(
    name="okx",
    amend_sets_total_size=True,
    pushed_fee_sign=-1.0,
    market_types={"spot": "spot", "linear": "swap", "inverse": "swap"},
    swap_wallet=swap_wallet,
    leverage_sets_margin_mode=True,
    typed_accounts=False,
)
