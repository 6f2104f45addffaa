"""The state a live run carries over a restart: a crash-and-restart loop cannot reset today's
loss or the drawdown, and an unreadable state file is an error, never a silent fresh start."""

from __future__ import annotations

import numpy as np
import pytest

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.config import AppConfig
from ccxt_mm.engine import state
from ccxt_mm.engine.core import QuotingCore
from ccxt_mm.errors import ConfigError
from ccxt_mm.execution.paper import PaperParams, PaperVenue, QueueModel
from ccxt_mm.quoting.portfolio import Part, Portfolio, PortfolioParams
from ccxt_mm.quoting.risk import RiskMode
from ccxt_mm.strategies import load_strategy

CONFIG = AppConfig.model_validate({"risk": {"daily_loss_limit_quote": 50.0, "max_drawdown_quote": 80.0}})
NOON = (20_000 * 86_400 + 43_200) * 1_000_000_000


def core() -> QuotingCore:
    params = PaperParams(
        entry_latency_ms=0.0,
        cancel_latency_ms=0.0,
        maker_fee_bps=0.0,
        taker_fee_bps=0.0,
        queue_model=QueueModel.PROPORTIONAL,
        amend_supported=True,
    )
    venue = PaperVenue(params, GridBook(np.empty(0)), 1.0, 1e5, lot_size=1e-5)
    return QuotingCore(CONFIG, load_strategy(CONFIG), venue, "t", 1.0, 1e5)


def evaluate(c: QuotingCore, now: int, pnl: float):
    return c.risk.evaluate(now, pnl, {"BTC": 0.0}, {"BTC": 0.0}, 1e5)


def test_todays_loss_and_drawdown_survive_a_restart(tmp_path):
    first = core()
    evaluate(first, NOON, 10.0)  # up 10 in the morning ...
    evaluate(first, NOON + 1, -30.0)  # ... then down 30: lost 40 today, 40 from the peak
    first.mid = 1.0
    first.inventory.realized = -30.0
    path = tmp_path / "s.json"
    state.save(path, {"binance BTC/USDT": state.snapshot(first, ["t1", "t2"], NOON + 2)})
    markets, portfolio = state.load(path)
    saved = markets["binance BTC/USDT"]
    assert portfolio is None  # a file without the portfolio's (an earlier version's) still loads
    assert saved == {"day": NOON // state.DAY_NS, "loss_today": 40.0, "drawdown": 40.0, "seen_trades": ["t1", "t2"]}
    second = core()  # the restarted run: its PnL starts at 0
    state.restore(second, saved, NOON + 10)
    assert evaluate(second, NOON + 11, -5.0).mode is RiskMode.QUOTING  # 45 lost today: still under 50
    assert evaluate(second, NOON + 12, -15.0).mode is RiskMode.PAUSED  # 55 today: the limit holds over the restart
    third = core()
    state.restore(third, saved, NOON + 10)
    assert evaluate(third, NOON + 11, -45.0).mode is RiskMode.STOPPED  # 85 from the peak > 80: the kill switch too


def test_a_new_day_starts_without_yesterdays_loss(tmp_path):
    c = core()
    state.restore(c, {"day": NOON // state.DAY_NS - 1, "loss_today": 45.0, "drawdown": 0.0, "seen_trades": []}, NOON)
    assert evaluate(c, NOON + 1, -10.0).mode is RiskMode.QUOTING
    assert c.risk.day_start_pnl == -10.0  # the day starts at this run's first PnL, not at yesterday's loss


def test_the_portfolio_s_loss_today_and_drawdown_survive_a_restart(tmp_path):
    """Two markets lost 30 and 20 today (neither alone at its limit): the portfolio's 50 and its
    drawdown are in the file, and a restarted run with PnL 0 pauses at its next 10 lost
    together, and stops 45 later."""
    params = PortfolioParams(total_daily_loss_quote=55.0, total_drawdown_quote=100.0)
    first = Portfolio(params)
    first.update("binance BTC/USDT", Part("BTC", 0.0, 0.0, 0.0, 60_000.0, 0.0))
    first.evaluate(NOON, "BTC")
    first.update("binance BTC/USDT", Part("BTC", 0.0, 0.0, 0.0, 60_000.0, -30.0))
    first.update("okx BTC/USDT", Part("BTC", 0.0, 0.0, 0.0, 60_000.0, -20.0))
    first.evaluate(NOON + 1, "BTC")
    path = tmp_path / "s.json"
    state.save(path, {}, state.portfolio_snapshot(first, NOON + 2))
    _, saved = state.load(path)
    assert saved == {"day": NOON // state.DAY_NS, "loss_today": 50.0, "drawdown": 50.0}
    second = Portfolio(params)
    state.restore_portfolio(second, saved, NOON + 10)
    second.update("binance BTC/USDT", Part("BTC", 0.0, 0.0, 0.0, 60_000.0, -4.0))
    second.evaluate(NOON + 11, "BTC")
    assert second.state("binance BTC/USDT", 0.0) is None  # 54 lost today
    second.update("binance BTC/USDT", Part("BTC", 0.0, 0.0, 0.0, 60_000.0, -10.0))
    second.evaluate(NOON + 12, "BTC")
    assert second.state("binance BTC/USDT", 0.0).mode is RiskMode.PAUSED  # 60 today: the limit holds over the restart
    second.update("binance BTC/USDT", Part("BTC", 0.0, 0.0, 0.0, 60_000.0, -51.0))
    second.evaluate(NOON + 13, "BTC")
    assert second.state("binance BTC/USDT", 0.0).mode is RiskMode.STOPPED  # 101 from the peak before the restart


@pytest.mark.parametrize(
    "text", ["{", '{"markets": {"x": {"day": "today"}}}', '{"other": 1}', "[]", '{"markets": {}, "portfolio": {"day": 1}}']
)
def test_an_unreadable_state_file_is_an_error_naming_it(tmp_path, text):
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match="live state file unreadable") as info:
        state.load(path)
    assert str(path) in str(info.value)
    assert state.load(tmp_path / "missing.json") == ({}, None)
