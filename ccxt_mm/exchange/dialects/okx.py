"""OKX spot: an amend sets the order's total size; ccxt.pro builds pushed trades from the
orders channel with OKX's ``fillFee``, which OKX signs negative for a charge."""

from ccxt_mm.exchange.dialects import Dialect

DIALECT = Dialect(
    name="okx",
    amend_sets_total_size=True,
    pushed_fee_sign=-1.0,
)
