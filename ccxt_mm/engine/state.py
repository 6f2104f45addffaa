"""What a live run must carry over a restart, even after SIGKILL: per market, the UTC day and
the loss already taken that day (so a crash-and-restart loop cannot reset the daily loss
limit), the PnL peak of the drawdown kill switch, and the ids of the fills already seen; and
the same day, loss and drawdown of the portfolio all markets share.

Saved as JSON with an atomic replace (write a temporary file, then rename), now and then
while quoting and at shutdown; a missing file is a first run, an unreadable one a
:class:`~ccxt_mm.errors.ConfigError` naming it (never silently a fresh start).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ccxt_mm.engine.core import QuotingCore
from ccxt_mm.errors import ConfigError
from ccxt_mm.quoting.portfolio import Portfolio
from ccxt_mm.quoting.risk import DAY_NS, RiskManager

SEEN_KEPT = 2_000
"""Fill ids kept per market (the most recent)."""


def snapshot(core: QuotingCore, seen_trades: list[str], now_ns: int) -> dict:
    """One market's carried-over state now."""
    pnl, risk = core.pnl, core.risk
    return {
        "day": now_ns // DAY_NS,
        "loss_today": risk.loss_today(now_ns, pnl),
        "drawdown": max(0.0, risk.peak_pnl - pnl),
        "seen_trades": seen_trades[-SEEN_KEPT:],
    }


def portfolio_snapshot(portfolio: Portfolio, now_ns: int) -> dict:
    """The portfolio's carried-over state now: the markets' loss today and drawdown together."""
    drawdown = max(0.0, portfolio.peak_pnl - portfolio.pnl())
    return {"day": now_ns // DAY_NS, "loss_today": portfolio.loss_today(now_ns), "drawdown": drawdown}


def save(path: Path, markets: dict[str, dict], portfolio: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    doc = {"markets": markets} if portfolio is None else {"markets": markets, "portfolio": portfolio}
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True))
    os.replace(tmp, path)


def load(path: Path) -> tuple[dict[str, dict], dict | None]:
    """(market key → saved state, the portfolio's saved state): ({}, None) when there is no
    file yet; a file of an earlier version holds no portfolio (None)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}, None
    try:
        doc = json.loads(text)
        markets, portfolio = doc["markets"], doc.get("portfolio")
        for key, m in markets.items():
            int(m["day"]), float(m["loss_today"]), float(m["drawdown"]), list(m["seen_trades"])
            if not isinstance(key, str):
                raise TypeError("market key")
        if portfolio is not None:
            int(portfolio["day"]), float(portfolio["loss_today"]), float(portfolio["drawdown"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(str(path), [f"live state file unreadable ({type(exc).__name__}: {exc}); move it away to start afresh"]) from None
    return markets, portfolio


def restore(core: QuotingCore, saved: dict, now_ns: int) -> None:
    """Carry today's loss and the drawdown from peak into a fresh core (its PnL starts at 0)."""
    _carry(core.risk, saved, now_ns)


def _carry(guard: RiskManager | Portfolio, saved: dict, now_ns: int) -> None:
    """Today's loss and the drawdown of ``saved`` into ``guard``'s day start and peak, its PnL
    starting at 0 (yesterday's loss is not carried into a new day)."""
    day = now_ns // DAY_NS
    if int(saved["day"]) == day:
        guard.day = day
        guard.day_start_pnl = float(saved["loss_today"])
    guard.peak_pnl = float(saved["drawdown"])


def restore_portfolio(portfolio: Portfolio, saved: dict, now_ns: int) -> None:
    """Carry the markets' loss today and drawdown together into a fresh portfolio."""
    _carry(portfolio, saved, now_ns)
