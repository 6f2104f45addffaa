"""Prometheus metrics of a live run, collected from the engine's state at scrape time
(nothing on the quoting path), served by an aiohttp endpoint in the same event loop."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from ccxt_mm.engine.live import LiveEngine, LiveMarket
from ccxt_mm.engine.status import portfolio_status, run_status
from ccxt_mm.execution.venue import LatencyRecord
from ccxt_mm.quoting.risk import RiskMode
from ccxt_mm.report.status_page import status_html

LABELS = ["exchange", "symbol"]


class EngineCollector(Collector):
    def __init__(self, engine: LiveEngine) -> None:
        self.engine = engine

    def collect(self) -> Iterator:
        c, g, h = _counters(), _gauges(), _histograms()
        for m in self.engine.markets:
            _add_market(c, g, m)
            _add_latencies(g, h, m)
        yield from c.values()
        yield from g.values()
        yield from h.values()
        yield from _portfolio(self.engine)


def _portfolio(engine: LiveEngine) -> list[GaugeMetricFamily]:
    """The book every market shares: each asset's position summed over the markets, whether it
    is reduce-only across them, and the markets' PnL together."""
    held = GaugeMetricFamily("ccxt_mm_portfolio_position_base", "An asset's position summed over every market", labels=["asset"])
    reducing = GaugeMetricFamily("ccxt_mm_portfolio_reduce_only", "1 while an asset is reduce-only across markets", labels=["asset"])
    pf = engine.portfolio
    for asset in sorted({m.core.base_asset for m in engine.markets}):
        held.add_metric([asset], pf.position(asset))
        reducing.add_metric([asset], 1.0 if asset in pf.reducing else 0.0)
    pnl = GaugeMetricFamily("ccxt_mm_portfolio_pnl_quote", "Every market's PnL together, quote currency")
    pnl.add_metric([], pf.pnl())
    return [held, reducing, pnl]


def _counters() -> dict[str, CounterMetricFamily]:
    """The counter families, empty, by short name."""
    return {
        "book_updates": CounterMetricFamily("ccxt_mm_book_updates", "Order books received", labels=LABELS),
        "orders": CounterMetricFamily("ccxt_mm_orders", "Order actions sent", labels=[*LABELS, "action"]),
        "rejects": CounterMetricFamily("ccxt_mm_post_only_rejects", "Post-only orders refused or cancelled by the exchange", labels=LABELS),
        "fills": CounterMetricFamily("ccxt_mm_fills", "Fills", labels=LABELS),
        "errors": CounterMetricFamily("ccxt_mm_errors", "Failures of a market's loops", labels=[*LABELS, "loop"]),
        "rate_limited": CounterMetricFamily("ccxt_mm_rate_limited", "429/418 answers", labels=LABELS),
        "rate_wait": CounterMetricFamily("ccxt_mm_rate_limit_wait_seconds", "Time held back by Retry-After", labels=LABELS),
        "clipped": CounterMetricFamily(
            "ccxt_mm_envelope_clipped", "Strategy quotes the envelope changed and let through", labels=[*LABELS, "reason"]
        ),
        "dropped": CounterMetricFamily("ccxt_mm_envelope_dropped", "Strategy quotes the envelope refused", labels=[*LABELS, "reason"]),
        "strategy_errors": CounterMetricFamily(
            "ccxt_mm_strategy_errors", "Strategy calls that raised (the market's quotes were pulled)", labels=LABELS
        ),
        "fallbacks": CounterMetricFamily(
            "ccxt_mm_feed_fallbacks", "Times a feed left its websocket for REST polling", labels=[*LABELS, "feed"]
        ),
    }


def _gauges() -> dict[str, GaugeMetricFamily]:
    """The gauge families, empty, by short name."""
    return {
        "inventory": GaugeMetricFamily("ccxt_mm_inventory_base", "Net base quantity traded", labels=LABELS),
        "pnl": GaugeMetricFamily("ccxt_mm_pnl_quote", "Market-making PnL (realized + unrealized - fees)", labels=LABELS),
        "latency": GaugeMetricFamily(
            "ccxt_mm_tick_to_intent_seconds", "Tick to order intent per book update", labels=[*LABELS, "quantile"]
        ),
        "mode": GaugeMetricFamily("ccxt_mm_risk_mode", "1 for the market's current risk mode", labels=[*LABELS, "mode"]),
        "on_websocket": GaugeMetricFamily(
            "ccxt_mm_feed_on_websocket", "1 while a feed uses its websocket, 0 while it polls REST", labels=[*LABELS, "feed"]
        ),
        "clock_offset": GaugeMetricFamily(
            "ccxt_mm_feed_clock_offset_seconds",
            "Receive less exchange time of a feed's fastest messages: our clock's offset plus the floor latency",
            labels=[*LABELS, "feed"],
        ),
    }


def _histograms() -> dict[str, HistogramMetricFamily]:
    """The histogram families, empty, by short name."""
    return {
        "feed": HistogramMetricFamily(
            "ccxt_mm_feed_latency_seconds", "Feed latency per message, above the fastest (clock offset removed)", labels=[*LABELS, "feed"]
        ),
        "ack": HistogramMetricFamily(
            "ccxt_mm_order_ack_latency_seconds", "Order request round trip, sent to the exchange's answer", labels=[*LABELS, "action"]
        ),
    }


def _add_latencies(g: dict[str, GaugeMetricFamily], h: dict[str, HistogramMetricFamily], m: LiveMarket) -> None:
    """Add market ``m``'s feed and order-ack latency histograms to ``h`` and its feeds' clock
    offsets to ``g`` (in s)."""
    ex, sym = m.key.split(" ", 1)
    for feed, clock in (("book", m.book_clock), ("trades", m.trade_clock)):
        _add_histogram(h["feed"], [ex, sym, feed], clock.latency)
        if clock.offset_ns is not None:
            g["clock_offset"].add_metric([ex, sym, feed], clock.offset_ns * 1e-9)
    for action, record in m.venue.ack_latency.items():
        _add_histogram(h["ack"], [ex, sym, action], record)


def _add_histogram(family: HistogramMetricFamily, labels: list[str], record: LatencyRecord) -> None:
    """One histogram of ``family``: ``record``'s buckets with their bounds in s."""
    buckets = [("+Inf" if math.isinf(le_ms) else f"{le_ms * 1e-3:.4g}", n) for le_ms, n in record.buckets()]
    family.add_metric(labels, buckets, record.sum_ms * 1e-3)


def _add_market(c: dict[str, CounterMetricFamily], g: dict[str, GaugeMetricFamily], m: LiveMarket) -> None:
    """Add market ``m``'s samples to the counters ``c`` and gauges ``g`` (latency in s)."""
    ex, sym = m.key.split(" ", 1)
    core, stats = m.core, m.core.orders.stats
    c["book_updates"].add_metric([ex, sym], m.book_feed.updates)
    c["orders"].add_metric([ex, sym, "place"], stats.placed)
    c["orders"].add_metric([ex, sym, "cancel"], stats.cancelled)
    c["rejects"].add_metric([ex, sym], stats.post_only_rejects)
    c["fills"].add_metric([ex, sym], core.inventory.fills)
    for reason, n in core.envelope.clipped.items():
        c["clipped"].add_metric([ex, sym, reason], n)
    for reason, n in core.envelope.dropped.items():
        c["dropped"].add_metric([ex, sym, reason], n)
    c["strategy_errors"].add_metric([ex, sym], core.strategy_errors)
    for loop, n in m.errors.items():
        c["errors"].add_metric([ex, sym, loop], n)
    venue_stats = getattr(m.venue, "stats", None)
    c["rate_limited"].add_metric([ex, sym], getattr(venue_stats, "rate_limited", 0))
    c["rate_wait"].add_metric([ex, sym], getattr(venue_stats, "rate_limit_wait_secs", 0.0))
    g["inventory"].add_metric([ex, sym], core.inventory.position)
    g["pnl"].add_metric([ex, sym], core.pnl)
    if m.latency_ns:
        lat = np.asarray(m.latency_ns, dtype=np.float64) * 1e-9
        for q in (0.5, 0.99):
            g["latency"].add_metric([ex, sym, str(q)], float(np.quantile(lat, q)))
    for mode in RiskMode:
        g["mode"].add_metric([ex, sym, mode.value], 1.0 if core.risk_state.mode is mode else 0.0)
    for feed, feed_mode in (("book", m.book_feed.mode), ("trades", m.trade_feed.mode)):
        c["fallbacks"].add_metric([ex, sym, feed], feed_mode.fallbacks)
        g["on_websocket"].add_metric([ex, sym, feed], 1.0 if feed_mode.use_websocket else 0.0)


async def serve_metrics(engine: LiveEngine, host: str, port: int) -> web.AppRunner:
    """Start ``GET /metrics``, and the read-only status page ``GET /status`` with its JSON
    ``GET /status.json``, on ``host:port`` (0: any free port); the caller cleans up."""
    registry = CollectorRegistry()
    registry.register(EngineCollector(engine))

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def status(request: web.Request) -> web.Response:
        return web.Response(text=status_html(run_status(engine), portfolio_status(engine)), content_type="text/html")

    async def status_json(request: web.Request) -> web.Response:
        assets = [a.as_dict() for a in portfolio_status(engine)]
        return web.json_response({"markets": [m.as_dict() for m in run_status(engine)], "portfolio": assets})

    app = web.Application()
    app.add_routes([web.get("/metrics", metrics), web.get("/status", status), web.get("/status.json", status_json)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
