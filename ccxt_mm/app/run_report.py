"""``ccxt-mm run``'s report: each market's written by replay's own
:func:`~ccxt_mm.report.write_report` (``summary.json``, ``fills.csv``, ``orders.csv``,
``plot.png``) in ``<report dir>/<exchange>-<BASE>-<QUOTE>/``, and the run's total in
``<report dir>/summary.json``.

Written on exit (after every order is cancelled: the final state), on SIGUSR1 and every
``report.every_secs`` while quoting. On the event loop only the figures are copied (the fill and
order-row lists, the sample arrays: a memcpy, a few ms for a day of updates of a market); the
summaries, CSV files and plot are made in a worker process, one for the run, started at the
first report. Not a thread: matplotlib draws in C holding the interpreter lock; with the
plots drawn in a thread the loop's lag (``benchmarks/live_loop.py --symbols 3 --report-every
2``: 9 markets, a report every 2 s) went from p99 4 ms / max 49-67 ms to p99 28 ms / max 144
ms, in the process it stayed at p99 5-6 ms / max 36-48 ms (tick → intent p99 300 → 600-900 µs
on 2 shared cores: the process's CPU). The figures cross to the process pickled, by the
executor's own thread. The worker ignores SIGINT, SIGTERM and
SIGUSR1 (a terminal's Ctrl-C and a service manager's stop reach the whole process group): the
run writes its last report, then ends it. A report that fails to write is logged as an error
with its traceback; quoting goes on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import multiprocessing
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ccxt_mm.config import AppConfig
from ccxt_mm.engine.core import FillRecord
from ccxt_mm.engine.live import LiveEngine
from ccxt_mm.engine.replay import ReplayResult
from ccxt_mm.report import summarize, summary_json, write_report

log = logging.getLogger("ccxt_mm.report")

SUMMED_COUNTS: Final = (
    "fills",
    "maker_fills",
    "taker_fills",
    "orders_filled",
    "orders_partly_filled",
    "orders_created",
    "orders_amended",
    "orders_cancelled",
    "post_only_rejects",
    "book_updates",
)
"""Counts summed over every market (a market's summary without one adds nothing)."""
SUMMED_QUOTE: Final = ("volume_quote", "pnl_realized", "pnl_unrealized", "fees", "pnl_total")
"""Figures in a market's quote currency, summed over the markets of each quote currency (USDT
with USDT, USD with USD); base quantities, prices and positions are never summed."""


@dataclass(frozen=True)
class MarketFigures:
    """One market's figures at one moment, copied off the live engine."""

    key: str
    """``exchange symbol``, as in logs and the printed summary."""
    folder: str
    """Its folder in the report dir (see :func:`market_folder`)."""
    quote: str
    """Its quote currency: what its money figures are in."""
    config: dict[str, object]
    """The config with the market's own ``market`` section (tick, lot, symbol), as data: the
    compiled build's frozen classes do not unpickle in the writer process."""
    result: ReplayResult
    """Without its fills (frozen compiled records: see ``fills``)."""
    fills: list[tuple]
    """Each fill's fields, in :class:`~ccxt_mm.engine.core.FillRecord`'s order."""
    stats: dict[str, object]
    """The live engine's summary of the market (orders, errors, latencies...), added to its
    ``summary.json``."""


def market_folder(key: str) -> str:
    """``okx BTC/USDT`` → ``okx-BTC-USDT`` (``BTC/USDT:USDT`` → ``BTC-USDT-USDT``)."""
    exchange, symbol = key.split(" ", 1)
    return f"{exchange}-{symbol.replace('/', '-').replace(':', '-')}"


def snapshot(engine: LiveEngine, stats: dict[str, dict], converted: dict[str, list[tuple]]) -> list[MarketFigures]:
    """Every market's figures now (on the event loop); ``stats``: the engine's summary by
    market key; ``converted``: each market's fills as data so far, extended with the new ones
    (a report converts only what is new since the last)."""
    now = engine.clock_ns()
    figures = []
    for m in engine.markets:
        result = m.result(now)
        fills = converted.setdefault(m.key, [])
        fills += [dataclasses.astuple(f) for f in result.fills[len(fills) :]]
        result.fills = []
        figures.append(MarketFigures(m.key, market_folder(m.key), m.core.quote_asset, m.core.cfg.model_dump(), result, fills, stats[m.key]))
    return figures


def write_run_report(out_dir: Path, markets: list[MarketFigures], run: dict[str, object]) -> list[Path]:
    """Write each market's report in its folder, then the total in ``out_dir/summary.json``
    (``run``: what the total says of the run itself), whole or not at all: once it is there, so
    is the rest of the report. Return the paths written."""
    written: list[Path] = []
    summaries: dict[str, dict[str, object]] = {}
    for m in markets:
        config = AppConfig.model_validate(m.config)
        result = dataclasses.replace(m.result, fills=[FillRecord(*f) for f in m.fills])
        summaries[m.key] = summarize(config, result, m.stats)
        written += write_report(out_dir / m.folder, config, result, summaries[m.key])
    total, part = out_dir / "summary.json", out_dir / "summary.json.part"
    part.write_text(summary_json({**run, **total_summary(markets, summaries)}) + "\n")
    part.replace(total)
    return [*written, total]


def total_summary(markets: list[MarketFigures], summaries: dict[str, dict[str, object]]) -> dict[str, object]:
    """Per market its folder, quote currency and the summed figures; their sums; and which
    figures are summed and how."""
    per_market: dict[str, dict[str, object]] = {}
    counts: dict[str, float] = dict.fromkeys(SUMMED_COUNTS, 0)
    by_quote: dict[str, dict[str, float]] = {}
    for m in markets:
        s = summaries[m.key]
        figures: dict[str, float] = {k: v for k in (*SUMMED_COUNTS, *SUMMED_QUOTE) if isinstance(v := s.get(k), int | float)}
        per_market[m.key] = {"folder": m.folder, "quote": m.quote, **figures}
        for k in SUMMED_COUNTS:
            counts[k] += figures.get(k, 0)
        money = by_quote.setdefault(m.quote, dict.fromkeys(SUMMED_QUOTE, 0.0))
        for k in SUMMED_QUOTE:
            money[k] += figures.get(k, 0.0)
    return {
        "markets": per_market,
        "total": {**counts, "by_quote": by_quote},
        "summed": {"counts": list(SUMMED_COUNTS), "by_quote_currency": list(SUMMED_QUOTE)},
    }


class RunReporter:
    """Writes the run report of ``engine`` into ``out_dir``: when asked (SIGUSR1), every
    ``every_secs`` seconds (None: never) while :meth:`run` runs, and once more at the end."""

    def __init__(self, engine: LiveEngine, out_dir: Path, every_secs: float | None, failed: list[str]) -> None:
        """``failed``: the markets that did not start (named in the total)."""
        self.engine = engine
        self.out_dir = out_dir
        self.every_secs = every_secs
        self.failed = failed
        self.written = 0
        """Reports written."""
        self.failures = 0
        """Reports that failed to write."""
        self._wake = asyncio.Event()
        self._reason = ""
        self._closing = False
        self._pool: ProcessPoolExecutor | None = None
        """The process the reports are written in (None: not started, or broken)."""
        self._fills: dict[str, list[tuple]] = {}
        """Each market's fills converted to data by earlier reports."""

    def request(self, reason: str) -> None:
        """Write a report as soon as the one being written (if any) is done."""
        self._reason = reason
        self._wake.set()

    async def run(self) -> None:
        """Write the report when asked or due, until :meth:`close`."""
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.every_secs)
                reason = self._reason
            except TimeoutError:
                reason = f"every {self.every_secs:g} s"
            self._wake.clear()
            if self._closing:
                return
            try:
                stats = self.engine.summary()
            except Exception:  # a report never stops quoting, nor the reports after it
                self.failures += 1
                log.exception("run report (%s) not written: the engine's summary failed; quoting goes on", reason)
                continue
            await self.write(stats, reason)

    async def close(self, task: asyncio.Task) -> None:
        """Stop ``task`` (the one running :meth:`run`) once its write in progress is done."""
        self._closing = True
        self._wake.set()
        await task

    def shutdown(self) -> None:
        """End the writer process (after the last report: no write is in progress)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    async def write(self, stats: dict[str, dict], reason: str) -> None:
        """Copy the figures now (``stats``: the engine's summary by market key), write them in
        the worker process; a failure is logged, never raised."""
        run = {
            "reason": reason,
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "markets_failed_to_start": self.failed,
        }
        try:
            figures = snapshot(self.engine, stats, self._fills)
            if self._pool is None:
                self._pool = ProcessPoolExecutor(1, multiprocessing.get_context("spawn"), initializer=_ignore_signals)
            await asyncio.get_running_loop().run_in_executor(self._pool, write_run_report, self.out_dir, figures, run)
        except Exception as exc:  # a report never stops quoting: said loudly, counted
            self.failures += 1
            if isinstance(exc, BrokenProcessPool):  # the worker died: a new one for the next report
                self.shutdown()
            log.exception("run report (%s) not written to %s; quoting goes on", reason, self.out_dir)
            return
        self.written += 1
        log.info("run report (%s) written to %s", reason, self.out_dir)


def _ignore_signals() -> None:
    """In the writer process: the signals that stop or poke the run are the run's to handle."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
        signal.signal(sig, signal.SIG_IGN)
