"""The config file a command reads, the data paths it names, and ``check-config``."""

from __future__ import annotations

import os
from pathlib import Path

from ccxt_mm.config import AppConfig, load_config
from ccxt_mm.config_checks import limits_off, start_warnings, unwise
from ccxt_mm.errors import DataError

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
    """``check-config``: load the config and its strategy (every error names its key), then
    warn about each limit that is off, values that are unwise, and what does not fit the
    recording ``market.data`` names (read when it is there)."""
    from ccxt_mm.strategies import load_strategy

    config, base_dir, source = app_config(path)
    load_strategy(config, source)
    warnings = _recording_warnings(config, base_dir, source)
    print(f"{source}: OK ({_market_words(config)})")
    pf = config.portfolio
    if pf.store == "redis":  # the URL may hold a password: only whether it is there is said
        found = "set" if os.environ.get(pf.redis_url_env) else "NOT set: `run` will refuse to start"
        print(f"portfolio: shared through Redis as book {pf.redis_book!r}; {pf.redis_url_env} is {found}")
    for warning in warnings:
        print(f"warning: {warning}")
    return 0


def _recording_warnings(config: AppConfig, base_dir: Path, source: str) -> list[str]:
    """:func:`~ccxt_mm.config_checks.start_warnings` against the recording ``market.data``
    names (its sizes converted at its first mid where they need a price); without the
    recording, the config's own and that it was not read. The limits off are those of a
    ``run`` of ``live.markets``."""
    from ccxt_mm.amounts import for_recording, in_amount_units, needs_reference_price
    from ccxt_mm.app.replay import store_facts
    from ccxt_mm.market.capture import open_recording

    files, markets = resolve(config.market.data, base_dir), len(config.live.markets)
    missing = [f for f in files if not Path(f).exists()]
    recording, converted, why = None, None, f"{', '.join(missing)} not found" if missing else "none given"
    try:
        recording = open_recording(files, config.market.symbol) if files and not missing else None
        converted = None if recording is None else for_recording(config, recording, source)[0]
    except DataError as exc:  # a `run` does not read it; a `replay` would stop here
        why = f"cannot be read for {config.market.symbol} ({exc}): `replay` would fail"
    if recording is None or converted is None:
        if not needs_reference_price(config):  # sizes that need a price are checked at replay
            in_amount_units(config, None, source)
        return [*limits_off(config, markets), *unwise(config), f"market.data: {why}; the config was not checked against a recording"]
    return start_warnings(config, converted, recording, store_facts(files, config.market.symbol), {}, markets)


def _market_words(config: AppConfig) -> str:
    """The market as check-config resolved it."""
    from ccxt_mm.amounts import needs_reference_price

    m = config.market
    amounts = "base units" if not m.contract.margined else "contracts"
    later = f"; its {m.size_unit} sizes become {amounts} at the recording's first mid"
    later = later if needs_reference_price(config) else ""
    if not m.contract.margined:
        return f"{m.symbol} spot{later}"
    kind = "inverse" if m.contract.inverse else "linear"
    worth = m.quote if m.contract.inverse else m.base
    return f"{m.symbol} {kind} swap, {m.contract.size:g} {worth} a contract, leverage {m.leverage:g}{later}"
