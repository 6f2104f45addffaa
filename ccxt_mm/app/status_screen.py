"""What ``ccxt-mm run`` shows while it quotes: on a terminal, a screen (rich) redrawn every second
with a row per market and the latest warnings under it; elsewhere (a service, a pipe), a plain
line per market every ``status_secs``; both then show each asset of the book the markets share.
Both read :func:`~ccxt_mm.engine.status.run_status` and ``portfolio_status``, off the quoting
path."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from typing import TYPE_CHECKING, Final, TextIO

from ccxt_mm.engine.status import AssetStatus, MarketStatus, portfolio_status, run_status
from ccxt_mm.logs import REDACTED

if TYPE_CHECKING:
    from rich.console import RenderableType

    from ccxt_mm.engine.live import LiveEngine

REFRESH_SECS: Final = 1.0
HEADINGS: Final = (
    "market", "mid", "our bid (bps)", "our ask (bps)", "position / limit", "PnL real.−fees / unreal.", "orders", "fills", "risk",
    "book age s", "headroom", "pred. age s",
)  # fmt: skip
WARNINGS_SHOWN: Final = 8


class WarningPane(logging.Handler):
    """Keeps the latest warnings and errors of the ``ccxt_mm`` loggers for the screen (JSON log
    lines on the same terminal would tear it apart), secrets masked as in the log lines."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.lines: deque[str] = deque(maxlen=WARNINGS_SHOWN)
        self.secrets = [s for s in secrets if s]

    def emit(self, record: logging.LogRecord) -> None:
        line = f"{time.strftime('%H:%M:%S', time.gmtime(record.created))} {record.levelname.lower()}: {record.getMessage()}"
        for secret in self.secrets:
            line = line.replace(secret, REDACTED)
        self.lines.append(line)


def display_for(no_status: bool, json_logs: bool, terminal: bool) -> str:
    """How ``run`` shows its state: ``screen`` on a terminal, ``lines`` (a plain line per market
    every ``--status-secs``) for a service or a pipe or with JSON logs, ``none`` with
    ``--no-status``."""
    if no_status:
        return "none"
    return "screen" if terminal and not json_logs else "lines"


def _num(x: float | None, fmt: str) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def status_table(markets: list[MarketStatus], warnings: list[str], assets: list[AssetStatus]) -> RenderableType:
    """The screen: a row per market (prices and PnL in quote, sizes in base, distances in bps,
    ages in s), a line per asset of the shared book, then the latest warnings."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title="ccxt-mm run", expand=True)
    for heading in HEADINGS:
        table.add_column(heading, justify="left" if heading in ("market", "risk") else "right")
    for m in markets:
        risk = m.risk_mode if not m.risk_reason else f"{m.risk_mode}: {m.risk_reason}"
        table.add_row(
            f"{m.market} ({m.mode})",
            _num(m.mid, ".2f"),
            f"{_num(m.bid, '.2f')} ({_num(m.bid_distance_bps, '.1f')})",
            f"{_num(m.ask, '.2f')} ({_num(m.ask_distance_bps, '.1f')})",
            f"{m.position_base:.6g} / {m.limit_base:g}",
            f"{m.pnl_realized - m.fees:.4f} / {m.pnl_unrealized:.4f}",
            str(m.open_orders),
            str(m.fills),
            risk,
            _num(m.book_age_secs, ".1f"),
            _num(m.order_headroom, ".0f"),
            _num(m.prediction_age_secs, ".0f"),
        )
    book = Text("\n".join(asset_line(a) for a in assets), style="bold")
    pane = Text("\n".join(warnings) if warnings else "no warnings", style="yellow" if warnings else "dim")
    return Group(table, book, pane)


def asset_line(a: AssetStatus) -> str:
    """One asset of the book all markets share, as one plain line (sizes in base units)."""
    limit = "no limit" if not math.isfinite(a.limit_base) else f"limit {a.limit_base:.6g}"
    line = f"status portfolio {a.asset}: position {a.position_base:.6g} over {a.markets} markets, {limit}"
    if a.reduce_only:
        line += f", reduce-only: {a.reduce_only}"
    if math.isfinite(a.excess_base):
        line += f", {a.excess_base:+.6g} over target: hedging"
    return f"{line}; book in {a.book}"


def status_line(m: MarketStatus) -> str:
    """One market as one plain line (for logs and pipes)."""
    return (
        f"status {m.market} ({m.mode}): mid {_num(m.mid, '.2f')} bid {_num(m.bid, '.2f')} ask {_num(m.ask, '.2f')} "
        f"position {m.position_base:.6g}/{m.limit_base:g} pnl {m.pnl_total:.4f} orders {m.open_orders} fills {m.fills} "
        f"risk {m.risk_mode} book age {_num(m.book_age_secs, '.1f')} s"
    )


async def show_screen(engine: LiveEngine, pane: WarningPane, stream: TextIO) -> None:
    """Redraw the screen on ``stream`` every :data:`REFRESH_SECS` until cancelled."""
    from rich.console import Console
    from rich.live import Live

    console = Console(file=stream)

    def screen() -> RenderableType:
        return status_table(run_status(engine), list(pane.lines), portfolio_status(engine))

    with Live(screen(), console=console, auto_refresh=False, transient=False) as live:
        while True:
            await asyncio.sleep(REFRESH_SECS)
            live.update(screen(), refresh=True)


async def print_lines(engine: LiveEngine, every_secs: float, stream: TextIO) -> None:
    """A plain line per market every ``every_secs`` until cancelled."""
    while True:
        await asyncio.sleep(every_secs)
        for m in run_status(engine):
            print(status_line(m), file=stream, flush=True)
        for a in portfolio_status(engine):
            print(asset_line(a), file=stream, flush=True)
