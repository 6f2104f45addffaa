"""Figures of a run a trader reads first, each with its unit: the time span, how long and how wide
we quoted, filled orders apart from executions, and the unit of every summary figure."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from ccxt_mm.engine import FillRecord, ReplayResult


def span_ns(result: ReplayResult) -> tuple[int, int]:
    """The recording time the run covers (ns): its first and last message, or its first and
    last book update when the result does not say."""
    if result.end_ns:
        return result.start_ns, result.end_ns
    ts = result.book_ts_ns
    return (int(ts[0]), int(ts[-1])) if ts.size else (0, 0)


def span(start_ns: int, end_ns: int) -> dict[str, object]:
    """That span: first and last message (UTC, ISO 8601) and seconds between them."""
    return {"start_utc": utc_iso(start_ns), "end_utc": utc_iso(end_ns), "secs": (end_ns - start_ns) * 1e-9}


def utc_iso(ns: int) -> str:
    """A time (ns since the epoch) in UTC, ISO 8601 to the millisecond."""
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def quoting(result: ReplayResult, start_ns: int, end_ns: int) -> dict[str, float]:
    """How long both sides were quoted (each book update's quotes standing until the next update
    or the next pull of the quotes, the last until ``end_ns``), that time as a fraction of the
    span from ``start_ns``, and the time-weighted average full spread of our level-0 quotes over
    it (bps of mid; NaN if never two-sided)."""
    ts = result.book_ts_ns
    if ts.size == 0:
        return {"time_quoted_secs": 0.0, "time_quoted_fraction": 0.0, "avg_quoted_spread_bps": float("nan")}
    ends = np.append(ts[1:], max(end_ns, int(ts[-1])))
    pulls = np.sort(result.pulls_ns)
    if pulls.size:
        after = np.searchsorted(pulls, ts, side="right")  # the first pull after each update
        pulled = after < pulls.size
        ends[pulled] = np.minimum(ends[pulled], pulls[after[pulled]])
    held = (ends - ts) * 1e-9
    two_sided = np.isfinite(result.bid_quote) & np.isfinite(result.ask_quote)
    quoted = float(held[two_sided].sum())
    spread = (result.ask_quote[two_sided] - result.bid_quote[two_sided]) / result.mid[two_sided] * 1e4
    total = (end_ns - start_ns) * 1e-9
    return {
        "time_quoted_secs": quoted,
        "time_quoted_fraction": quoted / total if total > 0 else 0.0,
        "avg_quoted_spread_bps": float(np.dot(held[two_sided], spread) / quoted) if quoted > 0 else float("nan"),
    }


def filled_orders(fills: list[FillRecord], created: int) -> dict[str, float]:
    """Quoted (maker) orders apart from their executions: those filled whole, those filled in part
    only (cancelled or left with some remaining), and the fill ratio (orders with any fill per
    order created; reduce-only taker slices are not created quotes and count in neither)."""
    whole = {f.order_id for f in fills if f.remaining <= 0.0 and not f.taker}
    some = {f.order_id for f in fills if not f.taker}
    return {
        "orders_filled": len(whole),
        "orders_partly_filled": len(some - whole),
        "fill_ratio": len(some) / created if created else 0.0,
    }


def units(base: str, quote: str, settle: str | None = None, amount: str | None = None) -> dict[str, str]:
    """The unit of every figure of a summary (``count``: a number of things): amounts in
    ``amount`` (base units, or a swap's contracts), money in ``settle`` (the quote for spot)."""
    per = f"{quote}/{base}"
    settle, amount = settle or quote, amount or base
    counts = (
        "fills", "maker_fills", "taker_fills", "orders_filled", "orders_partly_filled", "orders_created", "orders_amended",
        "orders_cancelled", "post_only_rejects", "late_cancels", "balance_rejects", "reduce_only_rejects", "fills_from_book", "orders_left_open",
        "book_updates", "messages", "book_rows",
    )  # fmt: skip
    return {
        **dict.fromkeys(counts, "count"),
        "volume_base": base,
        "volume_quote": quote,
        **dict.fromkeys(("final_position", "max_abs_inventory", "position"), amount),
        **dict.fromkeys(("pnl_realized", "pnl_unrealized", "fees", "pnl_total", "pnl", "loss_today", "funding", "equity_settle"), settle),
        "equity_quote": quote,
        "funding_payments": "count",
        "final_mid": per,
        **dict.fromkeys(("captured_bps", "adverse_bps", "fee_bps", "break_even_spread_bps", "avg_quoted_spread_bps"), "bps"),
        **dict.fromkeys(("markout_secs", "time_quoted_secs", "risk_mode_secs", "wall_s"), "s"),
        **dict.fromkeys(("fill_ratio", "time_quoted_fraction", "margin_ratio", "margin_ratio_max"), "fraction"),
        "liquidation_price": per,
        "liquidation_distance_bps": "bps",
    }
