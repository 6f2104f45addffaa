"""Replay report: summary JSON, fills and orders CSV, a PNG plot, break-even spread."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from ccxt_mm.config import AppConfig
from ccxt_mm.engine import FillRecord, ReplayEngine, ReplayResult
from ccxt_mm.quoting.contract import SPOT, Contract
from ccxt_mm.report.figures import filled_orders, quoting, span, span_ns, units


def markouts(fills: list[FillRecord], ts_ns: np.ndarray, mid: np.ndarray, horizon_secs: float, contract: Contract = SPOT) -> dict[str, float]:
    """Per-fill edge decomposition in bps of the mid at the fill, quantity-weighted:

    * ``captured_bps``: ``side × (mid − price) / mid``, the half-spread earned at the fill;
    * ``adverse_bps``: ``−side × (mid(t + h) − mid) / mid``, how far the mid moved against us;
    * ``fee_bps``: fee / notional (both in the settle currency, ``contract``'s);
    * ``break_even_spread_bps = 2 × (adverse + fee)``: the narrowest full spread at which
      these fills would have covered fees and adverse selection.
    """
    maker = [f for f in fills if not f.taker and f.mid > 0.0]
    if not maker or ts_ns.size == 0:
        return {"captured_bps": math.nan, "adverse_bps": math.nan, "fee_bps": math.nan, "break_even_spread_bps": math.nan}
    side = np.array([f.side for f in maker], dtype=np.float64)
    price = np.array([f.price for f in maker])
    qty = np.array([f.qty for f in maker])
    fee = np.array([f.fee for f in maker])
    m0 = np.array([f.mid for f in maker])
    at = np.array([f.ts_ns for f in maker], dtype=np.int64) + int(horizon_secs * 1e9)
    idx = np.clip(np.searchsorted(ts_ns, at, side="right") - 1, 0, ts_ns.size - 1)
    m1 = mid[idx]
    w = qty / qty.sum()
    captured = float(np.dot(w, side * (m0 - price) / m0 * 1e4))
    adverse = float(np.dot(w, -side * (m1 - m0) / m0 * 1e4))
    notional = qty * contract.size / price if contract.inverse else price * qty * contract.size
    fee_bps = float(np.dot(w, fee / notional * 1e4))
    return {
        "captured_bps": captured,
        "adverse_bps": adverse,
        "fee_bps": fee_bps,
        "break_even_spread_bps": 2.0 * (adverse + fee_bps),
    }


def summarize(config: AppConfig, result: ReplayResult, log_stats: dict[str, object]) -> dict[str, object]:
    inv = result.inventory
    mid = result.final_mid
    m = config.market
    summary: dict[str, object] = {
        "symbol": config.market.symbol,
        "strategy": config.strategy.name,
        "fills": inv.fills,
        "maker_fills": sum(1 for f in result.fills if not f.taker),
        "taker_fills": sum(1 for f in result.fills if f.taker),
        "volume_base": inv.volume_base,
        "volume_quote": inv.volume_quote,
        "pnl_realized": inv.realized,
        "pnl_unrealized": inv.unrealized(mid),
        "fees": inv.fees,
        "pnl_total": inv.pnl(mid),
        "final_position": inv.position,
        "max_abs_inventory": float(np.abs(result.position).max()) if result.position.size else 0.0,
        "final_mid": mid,
        "balances": result.balances,
        **_holdings(config, result),
        "risk_breaches": result.risk_breaches,
        "risk_mode_secs": result.mode_secs,
        "envelope": result.envelope,
        "book_updates": int(result.book_ts_ns.size),
        "predictor": "none",
        **log_stats,
    }
    summary.update(markouts(result.fills, result.book_ts_ns, result.mid, config.report.markout_secs, m.contract))
    summary["markout_secs"] = config.report.markout_secs
    start, end = span_ns(result)
    summary["span"] = span(start, end)
    summary.update(quoting(result, start, end))
    created = log_stats.get("orders_created")
    summary.update(filled_orders(result.fills, created if isinstance(created, int) else 0))
    summary["units"] = units(m.base, m.quote, m.settle, "contracts" if m.contract.margined else m.base)
    return summary


def market_facts(config: AppConfig) -> dict[str, object]:
    """The market's type and what its amounts are worth, as the summary states them."""
    m = config.market
    c = m.contract
    if not c.margined:
        return {"type": "spot", "amount_unit": m.base, "settle": m.settle}
    worth = m.quote if c.inverse else m.base
    return {
        "type": "swap",
        "margin": "inverse" if c.inverse else "linear",
        "amount_unit": "contracts",
        "contract_size": f"{c.size:g} {worth}",
        "settle": m.settle,
        "leverage": m.leverage,
        "maintenance_margin_rate": m.maintenance_margin_rate,
    }


def _holdings(config: AppConfig, result: ReplayResult) -> dict[str, object]:
    """Spot: the equity in the quote currency and the rebalancing to ``risk.target_allocation``;
    a swap: the equity (collateral + the position at the last mid) and the funding, settle
    currency."""
    m, mid = config.market, result.final_mid
    if m.contract.margined:
        cash, pos = result.balances.get(m.settle, 0.0), result.inventory.position
        liquidation = m.contract.liquidation_price(pos, cash)
        equity = cash + m.contract.position_value(pos, mid)
        return {
            "market": market_facts(config),
            "balances": {m.settle: equity - result.inventory.unrealized(mid)},  # the wallet: start + realized − fees + funding
            "equity_settle": equity,
            "funding": result.inventory.funding,
            "funding_payments": len(result.fundings),
            "margin_ratio": m.contract.margin_ratio(pos, cash, mid),
            "margin_ratio_max": result.margin_ratio_max,
            "liquidation_price": liquidation,
            "liquidation_distance_bps": None if liquidation is None else abs(liquidation - mid) / mid * 1e4,
        }
    equity = sum(v * (mid if a == m.base else 1.0) for a, v in result.balances.items())
    rebalance = {}
    for asset, target in config.risk.target_allocation.items():
        value = result.balances.get(asset, 0.0) * (mid if asset == m.base else 1.0)
        rebalance[asset] = {"target_fraction": target, "value_quote": value, "rebalance_quote": target * equity - value}
    return {"market": market_facts(config), "equity_quote": equity, "rebalance": rebalance}


def replay_summary(config: AppConfig, engine: ReplayEngine, result: ReplayResult, files: list[str]) -> dict[str, object]:
    """:func:`summarize` of a replay's ``result`` with the recording's and the order flow's
    counts and the recording's two clocks, taken from its ``engine``; ``files``: the recording."""
    recording, orders, clock = engine.recording, engine.orders.stats, engine.clock
    return summarize(
        config,
        result,
        {
            "messages": recording.messages_read,
            "book_rows": recording.book_rows,
            "skipped_messages": recording.skipped,
            "data": [Path(p).name for p in files],
            "orders_created": orders.placed,
            "orders_amended": orders.amended,
            "orders_cancelled": orders.cancelled,
            "post_only_rejects": orders.post_only_rejects,
            "late_cancels": orders.late_cancels,
            "balance_rejects": engine.venue.stats.balance_rejects,
            "reduce_only_rejects": engine.venue.stats.reduce_only_rejects,
            "fills_from_book": engine.venue.stats.book_fills,
            "orders_left_open": len(engine.venue.orders),
            "clock": {  # how many messages carry an exchange time, the offset (with the floor latency), the latency beyond
                "messages_with_exchange_time": clock.stamped,
                "offset_ms": clock.offset_ns / 1e6,
                "feed_latency_ms": clock.feed_latency.summary(),
            },
        },
    )


def compare(without: ReplayResult, with_: ReplayResult) -> dict[str, dict[str, float]]:
    """PnL, fills and inventory of the same replay without and with predictions."""

    def figures(r: ReplayResult) -> dict[str, float]:
        inv = r.inventory
        return {
            "fills": inv.fills,
            "volume_base": inv.volume_base,
            "pnl_total": inv.pnl(r.final_mid),
            "pnl_realized": inv.realized,
            "fees": inv.fees,
            "final_position": inv.position,
            "max_abs_inventory": float(np.abs(r.position).max()) if r.position.size else 0.0,
        }

    return {"without_predictions": figures(without), "with_predictions": figures(with_)}


def _json_value(x: object) -> object:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _json_value(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_json_value(v) for v in x]
    return x


def summary_json(summary: dict[str, object]) -> str:
    return json.dumps(_json_value(summary), indent=2, sort_keys=True)


REPORT_FILES = ("summary.json", "fills.csv", "orders.csv", "plot.png", "report.html")
"""What :func:`write_report` may write (the plot only when enabled)."""


def write_report(out_dir: Path, config: AppConfig, result: ReplayResult, summary: dict[str, object]) -> list[Path]:
    """Write summary.json, fills.csv, orders.csv, (if enabled) plot.png and report.html (the
    summary with its units and the plot, one self-contained page); return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / name for name in REPORT_FILES[:3]]
    written[0].write_text(summary_json(summary) + "\n")
    with written[1].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ts_ns", "seen_ns", "order_id", "side", "price", "qty", "fee", "liquidity", "mid", "position", "remaining"])
        for f in result.fills:
            side = "buy" if f.side > 0 else "sell"
            w.writerow(
                [
                    f.ts_ns,
                    f.seen_ns,
                    f.order_id,
                    side,
                    f.price,
                    f.qty,
                    f"{f.fee:.10g}",
                    "taker" if f.taker else "maker",
                    f.mid,
                    f"{f.position:.10g}",
                    f"{f.remaining:.10g}",
                ]
            )
    with written[2].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ts_ns", "action", "order_id", "side", "price", "qty", "reason"])
        for ts, action, cid, side, price, qty, reason in result.orders:
            w.writerow([ts, action, cid, "buy" if side > 0 else "sell", price, f"{qty:.10g}", reason])
    if config.report.plot:
        written.append(out_dir / REPORT_FILES[3])
        from ccxt_mm.report.plot import plot

        plot(written[-1], config, result, summary)
    from ccxt_mm.report.page import write_html

    written.append(out_dir / REPORT_FILES[4])
    write_html(written[-1], summary, out_dir / REPORT_FILES[3] if config.report.plot else None)
    return written
