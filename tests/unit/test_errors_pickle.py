"""Every error a worker process can raise comes back whole through pickle (a sweep's trials run
in other processes): same type, message and fields."""

from __future__ import annotations

import pickle

import pytest

from ccxt_mm.errors import ConfigError, CrossedBookError, DataError, LlmRequestError, RateLimited, SequenceGapError, StrategyPluginError


@pytest.mark.parametrize(
    "error",
    [
        ConfigError("trial 3", ["strategy.params.levels: expected a whole number (got 2.5)", "spread.x: unknown key"]),
        DataError("store/a.arrows", 12, "truncated"),
        SequenceGapError("f.gz", 3707, "sequence gap: expected pu=1, got pu=2"),
        CrossedBookError("f.gz", 9, "crossed"),
        LlmRequestError("quota exhausted", 429),
        RateLimited("slow down", 2.5),
        StrategyPluginError("no factory"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_error_survives_pickle(error):
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error) and str(back) == str(error) and vars(back) == vars(error)
