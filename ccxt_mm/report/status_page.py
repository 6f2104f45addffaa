"""The status page of a live run: the markets' :class:`~ccxt_mm.engine.status.MarketStatus` as one
HTML table (read-only, refreshed by the browser every second, no script) and as JSON."""

from __future__ import annotations

import html
import math

from ccxt_mm.engine.status import AssetStatus, MarketStatus

COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("market", "market", ""),
    ("mode", "mode", ""),
    ("mid", "mid", "quote"),
    ("bid", "our bid", "quote"),
    ("bid_distance_bps", "bid from mid", "bps"),
    ("ask", "our ask", "quote"),
    ("ask_distance_bps", "ask from mid", "bps"),
    ("position_base", "position", "base"),
    ("limit_base", "limit", "base"),
    ("pnl_realized", "realized", "quote"),
    ("pnl_unrealized", "unrealized", "quote"),
    ("fees", "fees", "quote"),
    ("pnl_total", "PnL", "quote"),
    ("open_orders", "open orders", ""),
    ("fills", "fills", "executions"),
    ("risk_mode", "risk", ""),
    ("risk_reason", "why", ""),
    ("book_age_secs", "book age", "s"),
    ("order_headroom", "order headroom", "requests"),
    ("prediction_age_secs", "prediction age", "s"),
)
"""(field, heading, unit) of each column, in order."""

ASSET_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("asset", "asset", ""),
    ("position_base", "position, all markets", "base"),
    ("markets", "markets", ""),
    ("limit_base", "portfolio limit", "base"),
    ("reduce_only", "reduce-only", ""),
    ("excess_base", "over target", "base"),
    ("book", "book", ""),
)
"""The portfolio table's columns: each asset summed over every market."""


def cell(value: object) -> str:
    """A value as the page shows it (the numbers the browser test reads back)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def _table(table_id: str, columns: tuple[tuple[str, str, str], ...], items: list) -> str:
    """One table, a row per item, each cell with ``data-field`` naming its field."""
    head = "".join(f"<th>{html.escape(title)}{f' ({unit})' if unit else ''}</th>" for _, title, unit in columns)
    rows = "".join(
        "<tr>" + "".join(f'<td data-field="{name}">{html.escape(cell(getattr(item, name)))}</td>' for name, _, _ in columns) + "</tr>"
        for item in items
    )
    return f"<table id='{table_id}'><tr>{head}</tr>{rows}</table>"


def status_html(markets: list[MarketStatus], assets: list[AssetStatus], refresh_secs: float = 1.0) -> str:
    """The page: a row per market, then a row per asset of the book they share."""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='refresh' content='{refresh_secs:g}'>"
        "<title>ccxt-mm status</title><style>body{font-family:system-ui,sans-serif}td,th{padding:2px 8px;"
        "border-bottom:1px solid #ddd;text-align:right}</style></head>"
        f"<body><h1>ccxt-mm status</h1>{_table('markets', COLUMNS, markets)}"
        f"<h2>portfolio</h2>{_table('portfolio', ASSET_COLUMNS, assets)}</body></html>\n"
    )
