"""`ccxt-mm run` against three emulated exchanges served from a background thread."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import threading
from decimal import Decimal

import pytest
import yaml
from ccxt_mm_testkit.emulator.server import EmulatorServer
from ccxt_mm_testkit.emulator.websockets import websockets

from ccxt_mm.cli import main
from tests.integration.exchanges.conftest import API_KEY, SECRET, recorded_frames, step_books
from tests.integration.exchanges.test_venues_emulated import ENVS, PASSPHRASE, Env

PRIVATE = ("/api/v3/order", "/api/v3/account", "/api/v3/openOrders", "/api/v5/trade", "/api/v5/account", "/v5/order", "/v5/account")


def assert_every_create_timed(s: dict, env: Env, server: EmulatorServer) -> None:
    """Summary ``s`` of ``env`` counts the round trip of every create request its emulator
    saw, but the one the stop may cut off before its answer (a market's order worker sends
    one request at a time)."""
    creates = server.requests.count(("POST", env.create_path))
    place = s["order_ack_latency_ms"]["place"]
    assert creates > 0 and creates - 1 <= place["count"] <= creates, (env.name, creates, place)
    assert 0 < place["p50_ms"] <= place["p99_ms"] < 5_000, (env.name, place)


def assert_feed_latency_measured(s: dict, name: str, feeds: tuple[str, ...] = ("book", "trades")) -> None:
    """Summary ``s`` of exchange ``name`` has feed latencies of ``feeds``: counted, finite and
    non-negative, under the run's few seconds, on a clock offset of the emulator's, which
    shares ours (so it is the fastest message's latency: >= 0, < 1 s)."""
    latency = s["feed_latency_ms"]
    for feed in feeds:
        h = latency[feed]
        assert h["count"] > 0, (name, feed, h)
        assert all(0 <= h[q] < 5_000 for q in ("p50_ms", "p90_ms", "p99_ms", "mean_ms")), (name, feed, h)
        assert 0 <= latency["clock_offset_ms"][feed] < 1_000, (name, feed, latency)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def emulators():
    """Three emulators on their own event loop, as remote exchanges would be."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    started, streams = [], []
    for env in ENVS:
        ex = env.seed()
        book, user = websockets(env.name, ex, API_KEY, SECRET, PASSPHRASE)
        streams += [book, user]
        server = EmulatorServer([*env.routes(ex), *book.routes(), *user.routes()], ex)
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
        started.append((env, ex, server))
    yield started, loop
    for stream in streams:
        asyncio.run_coroutine_threadsafe(stream.close(), loop).result(10)
    for _, _, server in started:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def write_config(tmp_path, emulators, metrics_port: int = 0, websocket: bool = False) -> str:
    emulators, _ = emulators
    cfg = {
        "live": {
            "markets": [{"exchange": env.name, "symbol": env.symbol} for env, _, _ in emulators],
            "websocket": websocket,
            "poll_secs": 0.05,
            "fill_poll_secs": 0.2,
            "rest_urls": {env.name: server.url for env, _, server in emulators},
            "ws_urls": {env.name: server.url.replace("http", "ws") for env, _, server in emulators},
            "metrics_port": metrics_port,
            "state_file": str(tmp_path / "live_state.json"),
            "state_secs": 0.2,
        },
        "strategy": {"params": {"order_qty": 0.01}},
        "risk": {"max_position_base": 0.05},
        "exchanges": {
            env.name: {"api_key_env": "EMU_KEY", "secret_env": "EMU_SECRET", "password_env": "EMU_PASSPHRASE"} for env, _, _ in emulators
        },
    }
    path = tmp_path / "live.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_live_run_quotes_every_exchange_and_stops_with_nothing_left(tmp_path, monkeypatch, capsys, emulators):
    monkeypatch.setenv("EMU_KEY", API_KEY)
    monkeypatch.setenv("EMU_SECRET", SECRET)
    monkeypatch.setenv("EMU_PASSPHRASE", PASSPHRASE)
    port = free_port()

    async def scrape() -> str:
        """Poll the endpoint while the run is up until it reports placed orders."""
        import aiohttp

        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                await asyncio.sleep(0.1)
                try:
                    async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                        text = await response.text()
                except aiohttp.ClientConnectionError:
                    continue
                timed = 'ccxt_mm_order_ack_latency_seconds_count{action="place",exchange="okx",symbol="BTC/USDT"} 0.0' not in text
                if 'action="place",exchange="okx"' in text and "ccxt_mm_tick_to_intent_seconds{" in text and timed:
                    return text
        return ""

    scraped = asyncio.run_coroutine_threadsafe(scrape(), emulators[1])
    config = write_config(tmp_path, emulators, metrics_port=port)
    log_file = tmp_path / "run.log.jsonl"
    assert main(["run", "--live", "--duration", "2", "--config", config, "--report-dir", str(tmp_path), "--log-file", str(log_file)]) == 0
    out, err = capsys.readouterr()
    metrics = scraped.result(10)
    assert 'ccxt_mm_orders_total{action="place",exchange="okx",symbol="BTC/USDT"}' in metrics
    assert 'ccxt_mm_risk_mode{exchange="bybit",mode="quoting",symbol="LTC/USDT"} 1.0' in metrics
    # the book binance's and okx's BTC share, and bybit's LTC alone
    assert 'ccxt_mm_portfolio_position_base{asset="BTC"}' in metrics and 'ccxt_mm_portfolio_reduce_only{asset="LTC"} 0.0' in metrics
    assert "ccxt_mm_portfolio_pnl_quote " in metrics
    assert "ccxt_mm_tick_to_intent_seconds" in metrics and "ccxt_mm_rate_limit_wait_seconds_total" in metrics
    assert 'ccxt_mm_strategy_errors_total{exchange="okx",symbol="BTC/USDT"} 0.0' in metrics
    # this run polls REST by configuration: no feed is on a websocket, none fell back
    assert 'ccxt_mm_feed_on_websocket{exchange="okx",feed="book",symbol="BTC/USDT"} 0.0' in metrics
    assert 'ccxt_mm_feed_fallbacks_total{exchange="okx",feed="book",symbol="BTC/USDT"} 0.0' in metrics
    # latency histograms, bounds in seconds: okx's REST books carry its time, binance's do not
    assert 'ccxt_mm_order_ack_latency_seconds_bucket{action="place",exchange="okx",le="+Inf",symbol="BTC/USDT"}' in metrics
    assert 'ccxt_mm_order_ack_latency_seconds_bucket{action="place",exchange="okx",le="1e-05",symbol="BTC/USDT"}' in metrics
    assert 'ccxt_mm_feed_latency_seconds_bucket{exchange="okx",feed="book",le="+Inf",symbol="BTC/USDT"}' in metrics
    assert 'ccxt_mm_feed_latency_seconds_count{exchange="binance",feed="book",symbol="BTC/USDT"} 0.0' in metrics
    assert 'ccxt_mm_feed_clock_offset_seconds{exchange="okx",feed="book",symbol="BTC/USDT"}' in metrics
    log_lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(e["msg"].startswith("metrics on http://127.0.0.1") and e["level"] == "info" for e in log_lines)
    summary = json.loads(out)
    assert "LIVE: real orders will be sent" in err and "kill switch: drawdown" in err
    assert "binance BTC/USDT: dead-man switch not available on this exchange" in err
    assert "okx BTC/USDT: dead-man switch armed" in err
    for env, ex, server in emulators[0]:
        s = summary[f"{env.name} {env.symbol}"]
        assert s["mode"] == "live" and s["orders_created"] > 0 and s["orders_left"] == 0
        assert ex.open_orders() == []
        assert_every_create_timed(s, env, server)
        if env.name == "binance":  # its REST depth has no time, as the real one
            assert s["feed_latency_ms"]["book"]["count"] == 0 and math.isnan(s["feed_latency_ms"]["clock_offset_ms"]["book"])
        else:
            assert_feed_latency_measured(s, env.name, ("book",))
    assert API_KEY not in out + err and SECRET not in out + err
    assert json.loads((tmp_path / "run_summary.json").read_text()) == summary
    logged = [json.loads(line) for line in log_file.read_text().splitlines()]  # every line JSON, the same as on stderr
    assert len(logged) >= 2 and [e["msg"] for e in logged] == [e["msg"] for e in log_lines]
    assert API_KEY not in log_file.read_text() and SECRET not in log_file.read_text()


async def market_activity(emulators, seconds: float) -> None:
    """Public trades 30 bps through the touch on every emulated market, every 0.2 s."""
    for _ in range(int(seconds / 0.2)):
        await asyncio.sleep(0.2)
        for env, ex, _ in emulators:
            tick = ex.markets[env.market_id].tick
            bid, ask = ex.best(env.market_id)
            ex.trade(env.market_id, "sell", (bid * Decimal("0.997")).quantize(tick), Decimal(100))
            ex.trade(env.market_id, "buy", (ask * Decimal("1.003")).quantize(tick), Decimal(100))


BOOK_PATHS = ("/api/v3/depth", "/api/v5/market/books", "/v5/market/orderbook")
TRADE_PATHS = ("/api/v3/aggTrades", "/api/v5/market/trades", "/v5/market/recent-trade")


def test_live_run_over_websockets_quotes_on_pushed_books_and_leaves_nothing(tmp_path, monkeypatch, capsys, emulators):
    """The default ``live.websocket: true``: books by ccxt.pro's watch_order_book and fills
    by watch_my_trades over the emulators' websockets, each book stepping through its
    exchange's real recording, public trades pushed too; every book and trade stamped with
    the emulator's clock, as the exchanges do, gives its feed latency."""
    for var, value in (("EMU_KEY", API_KEY), ("EMU_SECRET", SECRET), ("EMU_PASSPHRASE", PASSPHRASE)):
        monkeypatch.setenv(var, value)
    started, loop = emulators
    frames = [(ex, env.market_id, recorded_frames(env.name, env.symbol)) for env, ex, _ in started]
    mover = asyncio.run_coroutine_threadsafe(step_books(frames, 0.05), loop)
    activity = asyncio.run_coroutine_threadsafe(market_activity(started, 4.0), loop)
    try:
        config = write_config(tmp_path, emulators, websocket=True)
        assert main(["run", "--live", "--duration", "2.5", "--config", config, "--report-dir", str(tmp_path)]) == 0
    finally:
        mover.cancel()
    activity.result(10)
    summary = json.loads(capsys.readouterr().out)
    for env, ex, server in started:
        s = summary[f"{env.name} {env.symbol}"]
        assert s["orders_created"] > 0 and s["orders_left"] == 0 and ex.open_orders() == [], env.name
        assert s["book_updates"] > 10, env.name
        assert_feed_latency_measured(s, env.name)
        assert_every_create_timed(s, env, server)
        # the books came pushed: at most binance's one REST snapshot per subscription
        assert sum(1 for _, path in server.requests if path.startswith(BOOK_PATHS)) <= 2, env.name


def test_paper_run_fills_from_public_trades_and_sends_no_private_request(tmp_path, capsys, emulators):
    activity = asyncio.run_coroutine_threadsafe(market_activity(emulators[0], 4.0), emulators[1])
    assert main(["run", "--duration", "2.5", "--config", write_config(tmp_path, emulators)]) == 0
    activity.result(10)
    summary = json.loads(capsys.readouterr().out)
    for env, ex, server in emulators[0]:
        s = summary[f"{env.name} {env.symbol}"]
        assert s["mode"] == "paper" and s["book_updates"] > 3 and s["orders_created"] > 0
        assert s["fills"] > 0, f"{env.name}: public trades through our paper quotes must fill them"
        assert not [path for _, path in server.requests if path.startswith(PRIVATE)], env.name
        assert ex.orders == {}


def test_paper_run_over_websockets_fills_from_pushed_trades(tmp_path, capsys, emulators):
    """The default paper run: books and public trades pushed over the emulators' websockets
    (watch_order_book, watch_trades), simulated fills from those trades, no private request
    and no REST polling of books or trades."""
    started, loop = emulators
    frames = [(ex, env.market_id, recorded_frames(env.name, env.symbol)) for env, ex, _ in started]
    mover = asyncio.run_coroutine_threadsafe(step_books(frames, 0.05), loop)
    activity = asyncio.run_coroutine_threadsafe(market_activity(started, 4.0), loop)
    try:
        assert main(["run", "--duration", "2.5", "--config", write_config(tmp_path, emulators, websocket=True)]) == 0
    finally:
        mover.cancel()
    activity.result(10)
    summary = json.loads(capsys.readouterr().out)
    for env, ex, server in started:
        s = summary[f"{env.name} {env.symbol}"]
        assert s["mode"] == "paper" and s["book_updates"] > 10 and s["fills"] > 0, (env.name, s)
        paths = [path for _, path in server.requests]
        assert not [p for p in paths if p.startswith(PRIVATE)] and ex.orders == {}, env.name
        assert not [p for p in paths if p.startswith(TRADE_PATHS)], env.name
        assert sum(1 for p in paths if p.startswith(BOOK_PATHS)) <= 2, env.name
        assert_feed_latency_measured(s, env.name)
        assert set(s["order_ack_latency_ms"]) == {"place", "amend", "cancel"}
        assert all(h["count"] == 0 for h in s["order_ack_latency_ms"].values()), "paper sends no request to time"


def test_live_run_without_keys_names_the_missing_variables(tmp_path, monkeypatch, capsys, emulators):
    for var in ("EMU_KEY", "EMU_SECRET", "EMU_PASSPHRASE"):
        monkeypatch.delenv(var, raising=False)
    assert main(["run", "--live", "--duration", "1", "--config", write_config(tmp_path, emulators)]) == 2
    err = capsys.readouterr().err
    assert "exchanges.binance: environment variable EMU_KEY is not set" in err
    assert all(server.requests == [] for _, _, server in emulators[0])
