"""What a live run must carry over a restart, even after SIGKILL: per market, the UTC day and
the loss already taken that day (so a crash-and-restart loop cannot reset the daily loss
limit), the PnL peak of the drawdown kill switch, and the ids of the fills already seen.

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
from ccxt_mm.quoting.risk import DAY_NS

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


def save(path: Path, markets: dict[str, dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps({"markets": markets}, indent=1, sort_keys=True))
    os.replace(tmp, path)


def load(path: Path) -> dict[str, dict]:
    """Market key → saved state ({} when there is no file yet)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    try:
        doc = json.loads(text)
        markets = doc["markets"]
        for key, m in markets.items():
            int(m["day"]), float(m["loss_today"]), float(m["drawdown"]), list(m["seen_trades"])
            if not isinstance(key, str):
                raise TypeError("market key")
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(str(path), [f"live state file unreadable ({type(exc).__name__}: {exc}); move it away to start afresh"]) from None
    return markets


def restore(core: QuotingCore, saved: dict, now_ns: int) -> None:
    """Carry today's loss and the drawdown from peak into a fresh core (its PnL starts at 0)."""
    day = now_ns // DAY_NS
    if int(saved["day"]) == day:
        core.risk.day = day
        core.risk.day_start_pnl = float(saved["loss_today"])
    core.risk.peak_pnl = float(saved["drawdown"])
