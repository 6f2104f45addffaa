"""Creating ccxt exchange clients (credentials from environment variables only) and the venue
each market quotes through over one."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import ccxt.pro as ccxt_pro
import numpy as np

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.config import AppConfig
from ccxt_mm.errors import ConfigError
from ccxt_mm.exchange.dialects import public_dialect
from ccxt_mm.exchange.paper import LivePaperVenue
from ccxt_mm.exchange.venue import CcxtVenue
from ccxt_mm.execution.market import market_kind
from ccxt_mm.execution.paper import PaperVenue
from ccxt_mm.execution.venue import Venue


def client_class(name: str) -> type[ccxt_pro.Exchange]:
    """The ccxt.pro client class of exchange ``name`` (its dialect's, else ccxt's own); a name
    ccxt.pro does not know is a config error naming it."""
    found = public_dialect(name).client_class or getattr(ccxt_pro, name, None)
    if found is None:
        raise ConfigError("--exchange", [f"ccxt.pro has no exchange {name!r} (ccxt ids, e.g. binance, okx, kraken)"])
    return found


def credentials(config: AppConfig, exchange: str, source: str = "environment") -> dict[str, str]:
    """The API credentials of ``exchange`` read from the variables its config section names.
    A missing variable is an error naming the variable, never showing any value."""
    creds = config.exchanges.get(exchange)
    if creds is None:
        raise ConfigError(source, [f"exchanges.{exchange}: no credentials configured (api_key_env, secret_env)"])
    wanted = {"apiKey": creds.api_key_env, "secret": creds.secret_env}
    if creds.password_env:
        wanted["password"] = creds.password_env
    missing = [f"exchanges.{exchange}: environment variable {var} is not set" for var in wanted.values() if not os.environ.get(var)]
    if missing:
        raise ConfigError(source, missing)
    return {field: os.environ[var] for field, var in wanted.items()}


def make_exchange(name: str, config: AppConfig, with_credentials: bool) -> ccxt_pro.Exchange:
    """A ccxt.pro client (websocket feeds and the REST API) with ccxt's rate limiter on."""
    params: dict = {"enableRateLimit": True}
    if with_credentials:
        params.update(credentials(config, name))
    exchange = client_class(name)(params)
    if config.live.sandbox:
        exchange.set_sandbox_mode(True)
    if name in config.live.rest_urls:
        kinds = {market_kind(m.symbol) for m in config.live.markets if m.exchange == name}
        point_at(exchange, config.live.rest_urls[name], config.live.ws_urls.get(name), kinds or {"spot"})
    return exchange


def make_venue(config: AppConfig, exchange: ccxt_pro.Exchange, symbol: str, live: bool, clock_ns: Callable[[], int]) -> Venue:
    """The venue ``symbol`` quotes through on ``exchange``: real post-only orders if ``live``,
    else the paper venue on the exchange's public books. Past this choice the engine never asks
    which it got (the run command also reads keys and keeps state only for live)."""
    lc, leverage = config.live, config.market.leverage
    if live:
        if leverage != int(leverage):
            raise ConfigError("config", [f"market.leverage: {leverage:g} is not whole; exchanges set whole leverage on an account"])
        return CcxtVenue(
            exchange,
            symbol,
            clock_ns,
            lc.order_budget_per_min,
            fill_poll_secs=lc.fill_poll_secs,
            dead_man_secs=lc.dead_man_secs,
            push_fills=lc.websocket,
            leverage=int(leverage),
            margin_mode=lc.margin_mode,
        )
    p = config.paper
    base = config.risk.max_position_base if p.initial_base is None else p.initial_base
    paper = PaperVenue(p, GridBook(np.empty(0)), base=base, quote=p.initial_quote, lot_size=math.nan)
    return LivePaperVenue(exchange, symbol, paper, lc.grid_span, clock_ns, leverage=leverage)


def point_at(exchange: ccxt_pro.Exchange, base_url: str, ws_url: str | None = None, kinds: Iterable[str] = ("spot",)) -> None:
    """Rewrite every REST URL of ``exchange`` to ``base_url`` (scheme and host), keeping the
    path, and with ``ws_url`` every websocket URL to ``ws_url`` + ``/`` + its host's first label
    + its path (``wss://fstream.binance.com/ws`` → ``<ws_url>/fstream/ws``: the emulator and
    ccxt's own checks tell spot and futures streams apart by their hosts);
    load only the markets of ``kinds`` (``spot``, ``linear``, ``inverse``: what the run quotes)
    and switch off the other calls an offline emulator does not serve (``live.rest_urls`` and
    ``live.ws_urls``: the loopback emulator, or a proxy). An error answered on a rewritten URL
    is mapped as ccxt maps it from the host the URL stands for (binance tells a futures error
    code from a spot one by the host)."""
    stands_for: dict[str, str] = {}
    """Rewritten URL → the URL it replaced."""

    def rewrite(urls: dict) -> None:
        for key, url in list(urls.items()):
            if isinstance(url, str) and url.startswith("http"):
                urls[key] = base_url + urlsplit(url).path
                stands_for[urls[key]] = url
            elif isinstance(url, str) and url.startswith("ws") and ws_url is not None:
                parts = urlsplit(url)
                urls[key] = f"{ws_url}/{parts.hostname.split('.')[0]}{parts.path}"
            elif isinstance(url, dict):
                rewrite(url)

    rewrite(exchange.urls["api"])
    names = public_dialect(exchange.id).market_types
    exchange.has["fetchCurrencies"] = False
    exchange.options["fetchMarkets"] = {"types": sorted({names[kind] for kind in kinds})}
    exchange.options["fetchMargins"] = False
    by_url = getattr(exchange, "get_exceptions_by_url", None)
    if by_url is not None:
        prefixes = sorted(stands_for.items(), key=lambda item: -len(item[0]))

        def original_url_exceptions(url: str | None, exact_or_broad: str) -> dict:
            found = next((old + url[len(new) :] for new, old in prefixes if url and url.startswith(new)), url)
            return by_url(found, exact_or_broad)

        exchange.get_exceptions_by_url = original_url_exceptions
