"""One book of risk across markets (pure): each asset's position summed over every
(exchange, symbol) that trades it, with each market's part; the rooms that keep an asset's sum
within its limits with every market's resting orders counted as filled; and the risk mode the
whole imposes on each market.

Each market reports its part after every change (:meth:`Portfolio.update`: a fill, an order
placed, amended or gone), so a fill on one exchange moves the rooms and the inventory term of
every other market's next quote. The limits:

- per asset, ``max_asset_base`` and ``max_asset_notional_quote`` (at the asset's last mid) on
  the sum of the positions, every resting order of every market counted as filled: the rooms;
  once the sum reaches a limit, every market of the asset is reduce-only on the side that
  reduces the sum, no further than its own position on that side (a market on the other side
  quotes nothing), until the sum is back under ``asset_reduce_to_fraction`` of the limit;
- ``max_gross_notional_quote`` (the sum over assets of |position| × mid) and
  ``max_net_notional_quote`` (|sum of position × mid|): reduce-only the same way, on the
  assets that make it up;
- ``total_daily_loss_quote``: the markets' PnL together below −this since the UTC day started
  pauses every market until the next day; ``total_drawdown_quote``: the markets' PnL together
  this far below its peak stops every market (one kill switch).

Units: base units of the asset (a swap's contracts are converted by its market), quote
currency, ns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Final, Literal

from annotated_types import Ge, Gt, Le

from ccxt_mm.quoting.constraints import Fraction, Off, Pattern, Positive
from ccxt_mm.quoting.risk import DAY_NS, RiskMode, RiskState, inventory_risk


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioParams:
    """The ``portfolio`` section of the config: limits on all markets together (each market's
    own ``risk`` limits hold as well)."""

    skew: Literal["local", "portfolio", "blend"] = "portfolio"
    """What a market's inventory term skews by: its own position (``local``), its base asset's
    position summed over every market (``portfolio``), or ``blend_weight`` of the sum plus the
    rest of its own (``blend``); in the market's amount unit."""
    blend_weight: Fraction = 0.5
    """``blend``: the sum's weight in the position the inventory term uses."""
    max_asset_base: dict[str, Positive] = field(default_factory=dict)
    """Asset → largest |position summed over every market|, base units, every resting order
    counted as filled (an asset not named has none across markets)."""
    max_asset_notional_quote: dict[str, Positive] = field(default_factory=dict)
    """Asset → largest |summed position| × its mid, quote currency, resting orders counted."""
    max_gross_notional_quote: Annotated[Positive | None, Off("no limit on the gross notional", several_markets=True)] = None
    """Largest sum over assets of |summed position| × mid, quote currency (null: none)."""
    max_net_notional_quote: Annotated[Positive | None, Off("no limit on the net notional", several_markets=True)] = None
    """Largest |sum over assets of summed position × mid|, quote currency (null: none)."""
    total_daily_loss_quote: Annotated[Positive | None, Off("no daily loss pauses", several_markets=True)] = None
    """The markets' PnL together below −this since the UTC day started pauses every market
    until the next day, quote currency (null: none)."""
    total_drawdown_quote: Annotated[Positive | None, Off("no kill switch", several_markets=True)] = None
    """Kill switch: the markets' PnL together this far below its peak stops every market,
    quote currency (null: none)."""
    asset_reduce_to_fraction: Fraction = 0.8
    """Reduce-only on an asset's limit lasts until its |sum| <= the limit × this."""
    capital_quote: Positive | None = None
    """The capital the book runs on, quote currency: what concentration and target allocations
    are shares of (null: neither is used)."""
    max_concentration: Annotated[Fraction | None, Off("no limit on concentration", several_markets=True)] = None
    """Past this Herfindahl score of the assets' summed values over ``capital_quote`` (times
    ``concentration_factor`` while one share is above ``concentration_share``), the assets
    above that share are reduce-only across markets (null: no such limit)."""
    concentration_share: Fraction = 0.15
    """An asset's share of the capital above this is concentrated ..."""
    concentration_factor: Annotated[float, Ge(1)] = 1.5
    """... and multiplies the score by this."""
    asset_target_fraction: dict[str, Fraction] = field(default_factory=dict)
    """Asset → its summed position's target value, a share of ``capital_quote`` (0: flat): past
    ``rebalance_band_fraction`` of the capital from it, the book hedges back (``hedge``)."""
    rebalance_band_fraction: Annotated[float, Gt(0), Le(1)] = 0.05
    """How far from its target an asset's value may drift, a share of ``capital_quote``; the
    hedge goes on until it is back within half of this."""
    hedge: Literal["none", "passive", "taker"] = "none"
    """Past the band, on the market with the best price to reduce at (the highest bid to sell,
    the lowest ask to buy): ``passive`` skews its post-only quotes by ``hedge_skew`` times the
    excess; ``taker`` also takes ``hedge_slice_fraction`` of the excess every
    ``hedge_interval_secs`` while that costs at most ``hedge_max_cost_bps``."""
    hedge_skew: Annotated[float, Ge(0)] = 1.0
    """``passive``/``taker``: the best market's inventory term counts the excess this many
    times more, in its unit."""
    hedge_slice_fraction: Annotated[float, Gt(0), Le(1)] = 0.25
    """``taker``: each slice takes this share of the excess."""
    hedge_interval_secs: Positive = 5.0
    """``taker``: at most one slice per asset in this many seconds, across markets."""
    hedge_fee_bps: Annotated[float, Ge(0)] = 5.0
    """``taker``: the taker fee counted in a slice's cost, bps."""
    hedge_max_cost_bps: Annotated[float, Ge(0)] = 10.0
    """``taker``: a slice costs the half spread plus ``hedge_fee_bps``; none is taken above this."""
    store: Literal["memory", "redis"] = "memory"
    """Where the book lives: in this process (``memory``), or in Redis, shared with every
    process of the same ``redis_book`` (``redis``: see :mod:`ccxt_mm.shared`)."""
    redis_url_env: Annotated[str, Pattern(r"^[A-Z][A-Z0-9_]*$")] = "CCXT_MM_REDIS_URL"
    """``redis``: the environment variable holding the server's URL (``redis://host:port/db``;
    a password in it stays out of logs and reports)."""
    redis_book: Annotated[str, Pattern(r"^[A-Za-z0-9_.-]+$")] = "ccxt_mm"
    """``redis``: the book's name, the prefix of its keys: processes of one name share one book."""
    redis_sync_secs: Positive = 0.05
    """``redis``: how often this process publishes its parts, renews its claims and reads the
    others' (sooner when another process publishes a fill), seconds."""
    redis_timeout_secs: Positive = 0.5
    """``redis``: a request not answered within this is an outage: quoting pauses, seconds."""
    redis_resume_secs: Positive = 1.0
    """``redis``: after an outage, quoting resumes this long after the server answers again
    (every process has published its parts again by then), seconds."""

    def __post_init__(self) -> None:
        """What no single field's bound says, checked on every construction."""
        uses = [
            name
            for name, on in (
                ("max_concentration", self.max_concentration is not None),
                ("asset_target_fraction", bool(self.asset_target_fraction)),
            )
            if on
        ]
        if self.capital_quote is None and uses:
            raise ValueError(f"{' and '.join(uses)} need capital_quote (the capital they are shares of)")
        if self.hedge != "none" and not self.asset_target_fraction:
            raise ValueError(f"hedge {self.hedge!r} needs asset_target_fraction (the targets it hedges back to)")


@dataclass(slots=True)
class Part:
    """One market's part of the book, as it reported it last: base units and quote currency."""

    asset: str
    position: float = 0.0
    """Signed, base units (a swap's contracts converted at ``mid``)."""
    resting_buy: float = 0.0
    """Base units its resting and in-flight buys would add if they all filled."""
    resting_sell: float = 0.0
    mid: float = 0.0
    """The market's last mid, quote currency (0: no book yet)."""
    pnl: float = 0.0
    """Market-making PnL, quote currency."""
    claim_long: float = math.inf
    """The highest ``position + resting_buy`` the market may reach, base units: granted by
    the shared store so that the claims of every market of the asset sum within its limit
    (inf: no claim needed, the book is this process's alone)."""
    claim_short: float = -math.inf
    """The lowest ``position - resting_sell`` the market may reach, base units (-inf: none)."""
    best_bid: float = 0.0
    """The market's best bid and ask at its last quote, quote currency (0: none yet): where a
    hedge goes."""
    best_ask: float = 0.0


_NO_ROOM_LIMIT: Final = math.inf


class Portfolio:
    """The parts of every market, by market key (``"<exchange> <symbol>"``). Each query
    walks the markets of one asset only, so a quote costs the same however many assets run."""

    def __init__(self, params: PortfolioParams) -> None:
        self.p = params
        self.parts: dict[str, Part] = {}
        self._assets: dict[str, dict[str, Part]] = {}
        """Asset → its markets' parts."""
        self._pnl: dict[str, float] = {}
        self._pnl_total = 0.0
        """Every market's PnL together, kept as each reports (quote currency)."""
        self.peak_pnl = 0.0
        self.day = -1
        self.day_start_pnl = 0.0
        self.stopped_reason = ""
        self.reducing: dict[str, str] = {}
        """Asset → why it is reduce-only across markets (entered at a limit, left under
        ``asset_reduce_to_fraction`` of it)."""
        self.rebalancing: dict[str, float] = {}
        """Asset → its summed position's excess over its target, base units (> 0: too long),
        while it is past the band and until it is back within half of it."""
        self.concentration = 0.0
        """The Herfindahl score of the assets' values over ``capital_quote`` at the last evaluation."""
        self._slice_ns: dict[str, int] = {}
        """Asset → when its last hedge slice was taken (ns)."""
        self.unreachable = ""
        """Why the shared store cannot vouch for the book now (empty: it can, or there is
        none): every market pauses."""
        self.halted = ""
        """Why another process sharing the book has paused it for the day's loss (empty: none)."""

    def update(self, key: str, part: Part) -> None:
        """Market ``key``'s part now (the same object again, changed, or a new one)."""
        if self.parts.get(key) is not part:  # a market reports one object, changed in place: registered once
            self.parts[key] = part
            self._assets.setdefault(part.asset, {})[key] = part
        self._pnl_total += part.pnl - self._pnl.get(key, 0.0)
        self._pnl[key] = part.pnl

    def position(self, asset: str) -> float:
        """``asset``'s position summed over every market, base units."""
        total = 0.0
        parts = self._assets.get(asset)
        if parts is not None:
            for part in parts.values():
                total += part.position
        return total

    def others(self, key: str) -> float:
        """The position of ``key``'s asset held by the other markets, base units."""
        own = self.parts[key]
        total = 0.0
        for part in self._assets[own.asset].values():
            if part is not own:
                total += part.position
        return total

    def pnl(self) -> float:
        """Every market's PnL together, quote currency."""
        return self._pnl_total

    def loss_today(self, now_ns: int) -> float:
        """Loss of every market together since the UTC day of ``now_ns`` started, quote
        currency (0 on a day not evaluated yet)."""
        return max(0.0, self.day_start_pnl - self._pnl_total) if self.day == now_ns // DAY_NS else 0.0

    def summary(self) -> dict[str, object]:
        """What the run reports of the whole: each asset's summed position and each market's
        part (base units), its limit at its last mid, whether it is reduce-only and why; the
        markets' PnL together, today's loss and the kill switch."""
        assets: dict[str, object] = {}
        for asset, parts in sorted(self._assets.items()):
            limit = self._limit_base(asset, self._mid(asset))
            entry: dict[str, object] = {
                "position_base": self.position(asset),
                "markets": {key: part.position for key, part in sorted(parts.items())},
                "limit_base": None if limit == _NO_ROOM_LIMIT else limit,
                "reduce_only": self.reducing.get(asset),
            }
            claims = {key: [part.claim_short, part.claim_long] for key, part in sorted(parts.items()) if part.claim_long != _NO_ROOM_LIMIT}
            if claims:  # the shared store's grants: [lowest, highest] each market may reach
                entry["claims_base"] = claims
            assets[asset] = entry
        pnl = self.pnl()
        for asset, excess in sorted(self.rebalancing.items()):
            rebalance = assets.get(asset)
            if isinstance(rebalance, dict):
                rebalance["rebalance_excess_base"] = excess
        return {
            "assets": assets,
            "concentration": self.concentration,
            "pnl_quote": pnl,
            "loss_today_quote": max(0.0, self.day_start_pnl - pnl),
            "stopped": self.stopped_reason or None,
        }

    def _mid(self, asset: str) -> float:
        """The asset's last mid any of its markets reported (0: none yet)."""
        mid = 0.0
        for part in self._assets[asset].values():
            mid = part.mid or mid
        return mid

    def _limit_base(self, asset: str, mid: float) -> float:
        """``asset``'s tightest limit on |its sum|, base units (inf: none)."""
        limit = self.p.max_asset_base.get(asset, _NO_ROOM_LIMIT)
        notional = self.p.max_asset_notional_quote.get(asset)
        if notional is not None and mid > 0.0:
            limit = min(limit, notional / mid)
        return limit

    def rooms(self, key: str) -> tuple[float, float]:
        """Base units market ``key`` may still buy and sell within its asset's limits, every
        resting order of every market counted as filled (inf: no limit)."""
        own = self.parts[key]
        limit = self._limit_base(own.asset, own.mid)
        if limit == _NO_ROOM_LIMIT and own.claim_long == _NO_ROOM_LIMIT:  # no limit, no claim (inf - x is inf below)
            return _NO_ROOM_LIMIT, _NO_ROOM_LIMIT
        longest = shortest = 0.0
        for part in self._assets[own.asset].values():
            longest += part.position + part.resting_buy
            shortest += part.position - part.resting_sell
        room_buy = min(limit - longest, own.claim_long - own.position - own.resting_buy)
        room_sell = min(limit + shortest, own.position - own.resting_sell - own.claim_short)
        return max(0.0, room_buy), max(0.0, room_sell)

    def limit_base(self, asset: str) -> float:
        """``asset``'s tightest limit on |its sum| at its last mid, base units (inf: none)."""
        return self._limit_base(asset, self._mid(asset))

    def markets_of(self, asset: str) -> int:
        """How many markets hold a part of ``asset``."""
        parts = self._assets.get(asset)
        return 0 if parts is None else len(parts)

    def wanted_claim(self, key: str, headroom: bool = True) -> tuple[float, float, float, float, float]:
        """What market ``key`` asks the shared store for: (its asset's limit, base units, inf:
        none; the lowest claim on the long side, its committed ``position + resting_buy``; the
        claim it wants; and the same two on the short side). It wants, past what it has
        committed, the room the book leaves as last read (``headroom`` False: none, at the
        stop); the store grants at most a share of the limit past what is committed."""
        own = self.parts[key]
        limit = self._limit_base(own.asset, own.mid)  # at this market's mid, as its rooms
        need_long, need_short = own.position + own.resting_buy, own.position - own.resting_sell
        if limit == _NO_ROOM_LIMIT and own.asset in self.p.max_asset_notional_quote:
            return 0.0, need_long, need_long, need_short, need_short  # no price yet: what it holds, no more
        if limit == _NO_ROOM_LIMIT or not headroom:
            return limit, need_long, need_long, need_short, need_short
        longest = shortest = 0.0
        for part in self._assets[own.asset].values():
            longest += part.position + part.resting_buy
            shortest += part.position - part.resting_sell
        return limit, need_long, need_long + max(0.0, limit - longest), need_short, need_short - max(0.0, limit + shortest)

    def evaluate(self, now_ns: int, asset: str) -> None:
        """Move the day, the peak and ``asset``'s reduce-only state on to now (every market's
        parts as last reported; each market evaluates its own asset before it quotes); the kill
        switch latches."""
        p, pnl = self.p, self._pnl_total
        day = now_ns // DAY_NS
        if day != self.day:
            self.day, self.day_start_pnl = day, pnl
        self.peak_pnl = max(self.peak_pnl, pnl)
        if not self.stopped_reason and p.total_drawdown_quote is not None and self.peak_pnl - pnl > p.total_drawdown_quote:
            self.stopped_reason = f"portfolio drawdown {self.peak_pnl - pnl:.2f} > portfolio.total_drawdown_quote {p.total_drawdown_quote}"
        held = self.position(asset)
        limit = self._limit_base(asset, self._mid(asset))
        if abs(held) >= limit:
            if asset not in self.reducing:  # the reason as entered (no text built on every quote)
                self.reducing[asset] = f"portfolio limit of {asset}: {held:g} held across markets"
        elif abs(held) <= limit * p.asset_reduce_to_fraction:
            self.reducing.pop(asset, None)
        if held and (p.max_gross_notional_quote is not None or p.max_net_notional_quote is not None):
            self._notional_limits(asset, held)
        if p.capital_quote is not None:
            self._allocation(asset, held, p.capital_quote)

    def _allocation(self, asset: str, held: float, capital: float) -> None:
        """Reduce-only on ``asset`` while the book is concentrated and its share is one of the
        concentrated; its excess over its target allocation, past the band (hysteresis: until
        within half of it)."""
        p, mid = self.p, self._mid(asset)
        if mid <= 0.0:
            return
        if p.max_concentration is not None:
            values = {other: self.position(other) * self._mid(other) for other in self._assets}
            self.concentration = score = inventory_risk(values, capital, p.concentration_share, p.concentration_factor)
            share = abs(held) * mid / capital
            if score > p.max_concentration and share > p.concentration_share:
                self.reducing[asset] = f"portfolio concentration {score:.2f} > {p.max_concentration} ({asset} {share:.0%} of capital)"
        target = p.asset_target_fraction.get(asset)
        if target is None:
            return
        excess = held - target * capital / mid
        band = p.rebalance_band_fraction * capital / mid
        if abs(excess) > band or (asset in self.rebalancing and abs(excess) > band / 2):
            self.rebalancing[asset] = excess
        else:
            self.rebalancing.pop(asset, None)

    def hedge_for(self, key: str) -> float:
        """The excess of market ``key``'s asset over its target that this market hedges, base
        units (> 0: it sells it), when the book hedges and this market has the best price to
        reduce at: the highest bid to sell, the lowest ask to buy; else 0."""
        if self.p.hedge == "none":
            return 0.0
        own = self.parts[key]
        excess = self.rebalancing.get(own.asset, 0.0)
        if excess == 0.0:
            return 0.0
        best = own
        for part in self._assets[own.asset].values():
            if (excess > 0.0 and part.best_bid > best.best_bid) or (excess < 0.0 and 0.0 < part.best_ask < best.best_ask):
                best = part
        return excess if best is own else 0.0

    def slice_due(self, asset: str, now_ns: int) -> bool:
        """A hedge slice of ``asset`` may be taken now (one per ``hedge_interval_secs`` across
        markets); True also marks it taken."""
        if now_ns - self._slice_ns.get(asset, -(1 << 62)) < self.p.hedge_interval_secs * 1e9:
            return False
        self._slice_ns[asset] = now_ns
        return True

    def _notional_limits(self, asset: str, held: float) -> None:
        """Reduce-only on ``asset`` while the gross or the net notional over every asset is at
        its limit and ``asset`` adds to it."""
        p = self.p
        gross = net = 0.0
        for other in self._assets:
            value = self.position(other) * self._mid(other)
            gross += abs(value)
            net += value
        if p.max_gross_notional_quote is not None and gross >= p.max_gross_notional_quote:
            self.reducing[asset] = f"portfolio gross notional {gross:.2f} >= {p.max_gross_notional_quote}"
        if p.max_net_notional_quote is not None and abs(net) >= p.max_net_notional_quote and held * net > 0.0:
            self.reducing[asset] = f"portfolio net notional {net:.2f} beyond ±{p.max_net_notional_quote}"

    def loss_paused(self, now_ns: int) -> bool:
        """The markets' loss together today is past ``total_daily_loss_quote``."""
        limit = self.p.total_daily_loss_quote
        return limit is not None and self.loss_today(now_ns) > limit

    def state(self, key: str, inventory_risk: float) -> RiskState | None:
        """What the whole imposes on market ``key`` as of the last :meth:`evaluate` (None:
        nothing): stopped, paused for the day's loss, or reduce-only on its asset, on the side
        that reduces the sum and no further than its own position there (``reduce_max_base``
        in base units: the market converts it)."""
        p = self.p
        if self.stopped_reason:
            return RiskState(RiskMode.STOPPED, self.stopped_reason, inventory_risk)
        if self.unreachable or self.halted:
            return RiskState(RiskMode.PAUSED, self.unreachable or self.halted, inventory_risk)
        loss = self.day_start_pnl - self._pnl_total
        if p.total_daily_loss_quote is not None and loss > p.total_daily_loss_quote:
            return RiskState(RiskMode.PAUSED, f"portfolio daily loss {loss:.2f} > {p.total_daily_loss_quote}", inventory_risk)
        part = self.parts[key]
        why = self.reducing.get(part.asset)
        if why is None:
            return None
        side = -1 if self.position(part.asset) > 0.0 else 1
        return RiskState(RiskMode.REDUCE_ONLY, why, inventory_risk, side, max(0.0, -side * part.position))


_SEVERITY: Final = {RiskMode.QUOTING: 0, RiskMode.REDUCE_ONLY: 1, RiskMode.PAUSED: 2, RiskMode.STOPPED: 3}


def stricter(local: RiskState, whole: RiskState | None) -> RiskState:
    """The stricter of a market's own risk state and the portfolio's on it; two reduce-only
    states on opposite sides leave no side to quote: paused."""
    if whole is None:
        return local
    if local.mode is RiskMode.REDUCE_ONLY and whole.mode is RiskMode.REDUCE_ONLY:
        if local.reduce_side != whole.reduce_side:
            return RiskState(RiskMode.PAUSED, f"{local.reason}; {whole.reason}", local.inventory_risk)
        most = min(local.reduce_max_base, whole.reduce_max_base)
        return RiskState(RiskMode.REDUCE_ONLY, f"{local.reason}; {whole.reason}", local.inventory_risk, local.reduce_side, most)
    return whole if _SEVERITY[whole.mode] > _SEVERITY[local.mode] else local
