"""Engines: the venue-agnostic quoting core and the replay and live drivers around it."""

from ccxt_mm.engine.core import FillRecord, QuotingCore
from ccxt_mm.engine.replay import ReplayEngine, ReplayResult

__all__ = ["FillRecord", "QuotingCore", "ReplayEngine", "ReplayResult"]
