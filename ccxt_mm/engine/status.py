"""What an operator sees of a live run, market by market: a snapshot of the engine's state taken
off the quoting path (no I/O), for the status screen, the status page and its JSON."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ccxt_mm.engine.live import LiveEngine, LiveMarket


@dataclass(frozen=True)
class MarketStatus:
    """One market now. Prices in the quote currency, sizes in the base currency, PnL in the
    quote currency, distances in bps of mid, ages in seconds; NaN where there is nothing yet
    (no book, no quote)."""

    market: str
    """``exchange symbol``."""
    mode: str
    """``paper`` or ``live``."""
    mid: float
    bid: float
    """Our level-0 bid (NaN: none quoted)."""
    ask: float
    bid_distance_bps: float
    """How far our bid is below mid."""
    ask_distance_bps: float
    """How far our ask is above mid."""
    position_base: float
    limit_base: float
    """``risk.max_position_base``."""
    pnl_realized: float
    pnl_unrealized: float
    fees: float
    pnl_total: float
    """Realized + unrealized − fees."""
    open_orders: int
    """Orders resting or in flight."""
    fills: int
    """Executions (a partial fill is one)."""
    risk_mode: str
    risk_reason: str
    book_age_secs: float
    """Since the last book was read (NaN: none yet)."""
    order_headroom: float | None
    """Order requests the venue's budget allows now (None: no budget, as in paper)."""
    prediction_age_secs: float | None
    """Age of the prediction the quotes may lean on (None: none)."""

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: NaN as None."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def market_status(m: LiveMarket, now_ns: int, limit_base: float) -> MarketStatus:
    """``m`` at ``now_ns`` (ns, the engine's clock)."""
    core = m.core
    inv, mid = core.inventory, core.mid
    bid, ask = core.quotes
    has_mid = mid > 0.0
    prediction = core.prediction
    return MarketStatus(
        market=m.key,
        mode=m.venue.mode,
        mid=mid if has_mid else math.nan,
        bid=bid,
        ask=ask,
        bid_distance_bps=(mid - bid) / mid * 1e4 if has_mid else math.nan,
        ask_distance_bps=(ask - mid) / mid * 1e4 if has_mid else math.nan,
        position_base=inv.position,
        limit_base=limit_base,
        pnl_realized=inv.realized,
        pnl_unrealized=inv.unrealized(mid) if has_mid else 0.0,
        fees=inv.fees,
        pnl_total=inv.pnl(mid) if has_mid else inv.realized - inv.fees,
        open_orders=len(core.orders.by_id),
        fills=len(core.fills),
        risk_mode=core.risk_state.mode.value,
        risk_reason=core.risk_state.reason,
        book_age_secs=(now_ns - m.last_book_ns) / 1e9 if m.last_book_ns else math.nan,
        order_headroom=m.venue.order_headroom(),
        prediction_age_secs=(now_ns - prediction.ts_ns) / 1e9 if prediction is not None else None,
    )


def run_status(engine: LiveEngine) -> list[MarketStatus]:
    """Every market of ``engine``, now."""
    now = engine.clock_ns()
    return [market_status(m, now, engine.cfg.risk.max_position_base) for m in engine.markets]


@dataclass(frozen=True)
class AssetStatus:
    """One asset of the book all markets share: sizes in base units; NaN where there is none."""

    asset: str
    position_base: float
    """Summed over every market (with a shared store, other processes' too)."""
    markets: int
    """Markets holding a part of it."""
    limit_base: float
    """The portfolio's limit on |the sum| at its last mid (NaN: none)."""
    reduce_only: str
    """Why it is reduce-only across markets (empty: it is not)."""
    excess_base: float
    """Its excess over its target allocation while the book rebalances (NaN: none)."""
    book: str
    """The book as a whole: where it is kept and whether quoting may lean on it."""

    def as_dict(self) -> dict[str, object]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def portfolio_status(engine: LiveEngine) -> list[AssetStatus]:
    """Every asset of the book ``engine`` shares, now."""
    pf = engine.portfolio
    shared = engine.shared
    where = "this process" if shared is None else f"Redis {shared.server}, book {pf.p.redis_book}"
    book = f"{where}: {pf.unreachable}" if pf.unreachable else where
    out = []
    for asset in sorted({part.asset for part in pf.parts.values()}):
        limit = pf.limit_base(asset)
        out.append(
            AssetStatus(
                asset=asset,
                position_base=pf.position(asset),
                markets=pf.markets_of(asset),
                limit_base=limit if math.isfinite(limit) else math.nan,
                reduce_only=pf.reducing.get(asset, ""),
                excess_base=pf.rebalancing.get(asset, math.nan),
                book=book,
            )
        )
    return out
