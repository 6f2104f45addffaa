"""An adversarial strategy and a guard that checks every order the core sends.

:class:`Adversary` asks for anything: random sides (valid or not), levels, prices (NaN, inf,
negative, through the book, far away, off the tick grid), sizes (NaN, huge, off the lot grid),
things that are not quotes, returns that are not lists, and it raises now and then. Half of
its quotes are large and at the touch, so it fills, runs into its position limit and loses
money: every risk mode is visited.

:class:`GuardedVenue` sits between the quoting core and its real venue (paper or ccxt) and
checks each action against the core's state at the instant it is sent; a breach is recorded,
not raised, so the engine's own error handling cannot swallow it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from ccxt_mm.engine.core import QuotingCore
from ccxt_mm.execution.types import Action, AmendOrder, CancelOrder, OrderRejected, PlaceOrder, TakeOrder
from ccxt_mm.quoting.risk import RiskMode
from ccxt_mm.strategies import BUY, ENTRY_POINT_GROUP, SELL, MarketContext, Quote


@dataclass(frozen=True)
class AdversaryParams:
    seed: int
    p_raise: float = 0.02
    """Chance that a call raises."""
    p_junk: float = 0.03
    """Chance that on_book returns something other than a list."""
    max_quotes: int = 8
    big_qty: float = 0.05
    """Base size of the large quotes at the touch."""


class Adversary:
    """Random quotes, see the module docstring. ``seen_positions`` keeps |position| at every
    book update (what the strategy was told)."""

    def __init__(self, params: AdversaryParams) -> None:
        self.p = params
        self.rng = random.Random(params.seed)
        self.seen_positions: list[float] = []
        self.raised = 0
        self.junk = 0
        """Returns of on_book that were not lists."""

    def _maybe_raise(self, where: str) -> None:
        if self.rng.random() < self.p.p_raise:
            self.raised += 1
            raise RuntimeError(f"adversary fails in {where}")

    def on_trade(self, ts_ns: int, side: int, price: float, qty: float, mid: float) -> None:
        self._maybe_raise("on_trade")

    def on_timer(self, ts_ns: int) -> None:
        self._maybe_raise("on_timer")

    def on_book(self, ctx: MarketContext) -> list:
        r = self.rng
        self.seen_positions.append(abs(ctx.position))
        self._maybe_raise("on_book")
        if r.random() < self.p.p_junk:
            self.junk += 1
            return r.choice([None, "quotes", {"side": 1}, (Quote(BUY, 0, ctx.book.best_bid, 0.001),)])  # type: ignore[return-value]
        return [self._one(ctx) for _ in range(r.randint(0, self.p.max_quotes))]

    def _one(self, ctx: MarketContext) -> object:
        r, book = self.rng, ctx.book
        if r.random() < 0.5:  # large, at the touch, on either side: fills and hits the limit
            side = r.choice([BUY, SELL])
            price = book.best_bid if side == BUY else book.best_ask
            return Quote(side, r.choice([0, 0, 1]), price + r.choice([0.0, 0.004, -0.013, side * 0.5]), self.p.big_qty * r.random())
        if r.random() < 0.05:
            return r.choice([None, 42, "bid", (BUY, 0, book.mid, 0.001)])
        side = r.choice([BUY, SELL, BUY, SELL, 0, 2, -2])
        level = r.choice([0, 1, 2, 3, 4, -1, 7, 100])
        price = r.choice(
            [
                book.mid * (1.0 + r.uniform(-0.002, 0.002)),
                book.best_ask + r.uniform(0.0, 5.0),  # through the book for a bid
                book.best_bid - r.uniform(0.0, 5.0),
                book.mid * 3.0,
                book.mid * 0.2,
                math.nan,
                math.inf,
                -book.mid,
                0.0,
                1e-9,
            ]
        )
        qty = r.choice([r.uniform(0.0, 0.01), r.uniform(0.0, 0.2), 1e-9, 0.0, -0.01, math.nan, math.inf, 1e6, 0.00123456789])
        return Quote(side, level, price, qty)


@dataclass
class GuardedVenue:
    """Forwards to ``venue``; checks every action the core sends against the envelope's
    invariants at that instant and records any breach in :attr:`breaches`."""

    venue: object
    core: QuotingCore
    limit: float
    """The position limit, base units."""
    breaches: list[str] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)
    """Action kind → count."""
    modes_sent_in: set[str] = field(default_factory=set)
    """Risk modes in which a place, amend or take was sent."""
    rejects: list[tuple[str, str]] = field(default_factory=list)
    """(action kind, reason) of the venue's refusals other than post-only."""
    _last_sent: dict[str, str] = field(default_factory=dict)

    @property
    def supports_amend(self) -> bool:
        return self.venue.supports_amend  # type: ignore[attr-defined]

    @property
    def events(self) -> list:
        return self.venue.events  # type: ignore[attr-defined]

    def drain_events(self) -> list:
        events = self.venue.drain_events()  # type: ignore[attr-defined]
        for e in events:
            if isinstance(e, OrderRejected) and not e.post_only:
                self.rejects.append((self._last_sent.get(e.client_id, ""), e.reason))
        return events

    def submit(self, action: Action, now_ns: int) -> None:
        kind = type(action).__name__
        self.sent[kind] = self.sent.get(kind, 0) + 1
        self._last_sent[action.client_id] = kind
        if not isinstance(action, CancelOrder):
            self.modes_sent_in.add(self.core.risk_state.mode.value)
            for problem in self.problems(action):
                self.breaches.append(f"{now_ns}: {problem}: {action}")
        self.venue.submit(action, now_ns)  # type: ignore[attr-defined]

    def problems(self, action: PlaceOrder | AmendOrder | TakeOrder) -> list[str]:
        core = self.core
        mode, pos, lot = core.risk_state.mode, core.inventory.position, core.lot_size
        out = []
        if mode is RiskMode.PAUSED or mode is RiskMode.STOPPED:
            out.append(f"sent while {mode.value}")
        side = core.orders.by_id[action.client_id].side if isinstance(action, AmendOrder) else action.side
        reduces = (pos > 0 and side == SELL) or (pos < 0 and side == BUY)
        if mode is RiskMode.REDUCE_ONLY and not reduces:
            out.append(f"side {side} in reduce-only at position {pos}")
        if isinstance(action, TakeOrder):
            if mode is not RiskMode.REDUCE_ONLY:
                out.append("taker order outside reduce-only")
            return out
        if not on_grid(action.price, core.tick_size) or action.price <= 0.0:
            out.append(f"price off the tick grid {core.tick_size}")
        if not on_grid(action.qty, lot) or action.qty < lot:
            out.append(f"size off the lot grid {lot}")
        book = core.features
        assert book is not None
        if (side == BUY and action.price >= book.best_ask) or (side == SELL and action.price <= book.best_bid):
            out.append(f"post-only price through the book {book.best_bid}/{book.best_ask}")
        buy, sell = core.orders.resting()
        if pos + buy > self.limit + lot + 1e-12 or sell - pos > self.limit + lot + 1e-12:
            out.append(f"worst case beyond the limit: position {pos}, resting buy {buy} sell {sell}")
        return out


def on_grid(x: float, step: float) -> bool:
    n = x / step
    return math.isfinite(n) and abs(n - round(n)) < 1e-6


def register(folder: Path, name: str = "adversary") -> None:
    """Write an installed distribution's metadata into ``folder`` (to be put on sys.path)
    registering ``build`` below as the strategy plugin ``name``."""
    info = folder / "ccxt_mm_adversary-1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ccxt-mm-adversary\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{name} = tests.integration.adversary:build\n")


def build(params: dict, config: object) -> Adversary:
    """Plugin factory: ``params`` are :class:`AdversaryParams` fields."""
    return Adversary(AdversaryParams(**params))
