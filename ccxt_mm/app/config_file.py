"""The config file a command reads, the data paths it names, and ``check-config``."""

from __future__ import annotations

import os
from pathlib import Path

from ccxt_mm.config import AppConfig, load_config

BUNDLED = Path(__file__).resolve().parent.parent
"""Where a relative data path not found beside its config is read from (``recordings/...``)."""


DEFAULTS = "built-in defaults"
"""The name :func:`app_config` gives a config read from no file."""


def app_config(path: str | None) -> tuple[AppConfig, Path, str]:
    """The config, the folder its relative paths are read from, and its name for errors."""
    if path is None and Path("config.yaml").is_file():
        path = "config.yaml"
    if path is None:
        return AppConfig(), BUNDLED, DEFAULTS
    return load_config(path), Path(path).resolve().parent, path


def resolve(paths: tuple[str, ...] | list[str], base: Path) -> list[str]:
    """Relative paths are read from ``base``, else from the package (the bundled recordings)."""
    out = []
    for p in paths:
        candidate = Path(p)
        if not candidate.is_absolute():
            candidate = base / p if (base / p).exists() or not (BUNDLED / p).exists() else BUNDLED / p
        out.append(str(candidate))
    return out


def check_config(path: str | None) -> int:
    """``check-config``: load the config and its strategy; every error names its key."""
    from ccxt_mm.amounts import in_amount_units, needs_reference_price
    from ccxt_mm.strategies import load_strategy

    config, _, source = app_config(path)
    load_strategy(config, source)
    if not needs_reference_price(config):  # sizes that need a price are checked at replay
        in_amount_units(config, None, source)
    print(f"{source}: OK ({_market_words(config)})")
    pf = config.portfolio
    if pf.store == "redis":  # the URL may hold a password: only whether it is there is said
        found = "set" if os.environ.get(pf.redis_url_env) else "NOT set: `run` will refuse to start"
        print(f"portfolio: shared through Redis as book {pf.redis_book!r}; {pf.redis_url_env} is {found}")
    return 0


def _market_words(config: AppConfig) -> str:
    """The market as check-config resolved it."""
    from ccxt_mm.amounts import needs_reference_price

    m = config.market
    amounts = "base units" if not m.contract.margined else "contracts"
    later = f"; its {m.size_unit} sizes become {amounts} at the recording's first mid, checked by replay"
    later = later if needs_reference_price(config) else ""
    if not m.contract.margined:
        return f"{m.symbol} spot{later}"
    kind = "inverse" if m.contract.inverse else "linear"
    worth = m.quote if m.contract.inverse else m.base
    return f"{m.symbol} {kind} swap, {m.contract.size:g} {worth} a contract, leverage {m.leverage:g}{later}"
