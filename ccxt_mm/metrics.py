"""Prometheus metrics of a live run, collected from the engine's state at scrape time
(nothing on the quoting path), served by an aiohttp endpoint in the same event loop."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ccxt_mm.engine.live import LiveEngine, LiveMarket
from ccxt_mm.quoting.risk import RiskMode

LABELS = ["exchange", "symbol"]


class EngineCollector(Collector):
    def __init__(self, engine: LiveEngine) -> None:
        self.engine = engine

    def collect(self) -> Iterator:
        c, g = _counters(), _gauges()
        for m in self.engine.markets:
            _add_market(c, g, m)
        yield from c.values()
        yield from g.values()


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
    }


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
    """Start ``GET /metrics`` on ``host:port`` (0: any free port); the caller cleans up."""
    registry = CollectorRegistry()
    registry.register(EngineCollector(engine))

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.add_routes([web.get("/metrics", metrics)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
