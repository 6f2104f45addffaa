"""What each exchange does differently from ccxt's unified API: one module per exchange.

A module here is named by ccxt's exchange id and holds ``DIALECT``, a :class:`Dialect` of
facts the edge reads (and, where ccxt needs help, the code behind them: bybit's sequenced
book client, its order lookup by client id). Adding an exchange is adding its module (and
its emulator dialect in the test kit, to test it); :func:`names` lists them without
importing any, so the config can check an exchange name without loading ccxt.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

OrderLookup = Callable[[Any, dict, str], Awaitable[dict | None]]
"""``(exchange, market, client_id)`` → the order with that client id in any state, or None."""


@dataclass(frozen=True, kw_only=True)
class Dialect:
    """One exchange's differences; the defaults are ccxt's unified behaviour."""

    name: str
    """ccxt's exchange id."""
    client_class: type | None = None
    """The ccxt.pro client to use instead of ccxt's own (None: ccxt's)."""
    client_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """ccxt ``options`` entries set before the markets load."""
    book_depths: tuple[int, ...] = ()
    """Depths the order-book stream accepts, ascending (empty: any)."""
    amend_sets_total_size: bool = False
    """An amend's size is the order's total, filled part included (else what rests)."""
    amend_replaces: bool = False
    """An amend cancels and replaces the order under a new exchange id."""
    pushed_fee_sign: float = 1.0
    """Sign of the fee cost in pushed trades (``watch_my_trades``) that makes a charge > 0."""
    dead_man_params: Mapping[str, Any] = field(default_factory=dict)
    """Params of ``cancel_all_orders_after`` for spot."""
    find_by_client_id: OrderLookup | None = None
    """How to read an order by client id, where ccxt's ``fetch_order`` cannot."""
    market_types: Mapping[str, str] = field(default_factory=lambda: {"spot": "spot", "linear": "linear", "inverse": "inverse"})
    """Our market kind → ccxt's name of its type in ``options["fetchMarkets"]["types"]``."""
    swap: Mapping[str, Any] = field(default_factory=dict)
    """Fields that differ on the exchange's perpetual swaps (:meth:`for_market`)."""
    swap_wallet: Callable[[dict, str], float | None] | None = None
    """A swap account's wallet (no unrealized PnL) in ccxt's ``fetch_balance`` reply, by settle
    currency (None: ccxt's total less the position's unrealized PnL)."""
    post_only_refusal: str = ""
    """Text of the refusal of a post-only order that would take, where ccxt maps it to
    another error than ``OrderImmediatelyFillable`` (empty: none)."""
    typed_accounts: bool = True
    """A swap's balance, positions and funding are read from the account of its type (ccxt's
    ``type`` and ``subType`` params: binance's USDⓈ-M and COIN-M); False: one account (okx)."""
    leverage_sets_margin_mode: bool = False
    unchanged: str = ""
    """Text of the refusal to set a swap's leverage to what it is already, where the exchange
    refuses that (empty: it does not)."""
    funding_sign: float = 1.0
    """Sign that makes ccxt's funding history amount a receipt (bybit's is what was paid)."""
    """A swap's margin mode is set by the ``set_leverage`` call (its ``marginMode`` param), not apart."""

    def for_market(self, market: Mapping[str, Any]) -> Dialect:
        """This dialect as it applies to ccxt's ``market`` (a swap's own fields replaced)."""
        return dataclasses.replace(self, swap={}, **self.swap) if market.get("swap") and self.swap else self

    def book_depth(self, depth: int) -> int:
        """The smallest depth the stream accepts that covers ``depth`` levels."""
        if not self.book_depths:
            return depth
        return next((d for d in self.book_depths if d >= depth), self.book_depths[-1])


def names() -> tuple[str, ...]:
    """The exchanges with a dialect module, read from this folder (nothing imported)."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))


def public_dialect(name: str) -> Dialect:
    """The dialect to read exchange ``name``'s public data with (a capture of any exchange ccxt
    speaks): its module's, else ccxt's unified behaviour. Trading needs a module (:func:`dialect`)."""
    return dialect(name) if name in names() else Dialect(name=name)


@cache
def dialect(name: str) -> Dialect:
    """The dialect of exchange ``name`` (a :class:`ValueError` naming the known ones if none)."""
    if name not in names():
        raise ValueError(f"no dialect for exchange {name!r} (known: {', '.join(names())})")
    found = importlib.import_module(f"{__name__}.{name}").DIALECT
    assert isinstance(found, Dialect) and found.name == name, f"{name}.DIALECT"
    return found
