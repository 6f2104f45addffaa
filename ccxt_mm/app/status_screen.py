"""What ``ccxt-mm run`` shows while it quotes: on a terminal, a screen (rich) redrawn every second
with a row per market and the latest warnings under it; elsewhere (a service, a pipe), a plain
line per market every ``status_secs``. Both read :func:`~ccxt_mm.engine.status.run_status`, off
the quoting path."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from typing import TYPE_CHECKING, Final, TextIO

from ccxt_mm.engine.status import MarketStatus, run_status
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


def status_table(markets: list[MarketStatus], warnings: list[str]) -> RenderableType:
    """The screen: a row per market (prices and PnL in quote, sizes in base, distances in bps,
    ages in s), then the latest warnings."""
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
    pane = Text("\n".join(warnings) if warnings else "no warnings", style="yellow" if warnings else "dim")
    return Group(table, pane)


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
    with Live(status_table(run_status(engine), list(pane.lines)), console=console, auto_refresh=False, transient=False) as live:
        while True:
            await asyncio.sleep(REFRESH_SECS)
            live.update(status_table(run_status(engine), list(pane.lines)), refresh=True)


async def print_lines(engine: LiveEngine, every_secs: float, stream: TextIO) -> None:
    """A plain line per market every ``every_secs`` until cancelled."""
    while True:
        await asyncio.sleep(every_secs)
        for m in run_status(engine):
            print(status_line(m), file=stream, flush=True)
