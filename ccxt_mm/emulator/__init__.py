"""A loopback exchange emulator (aiohttp on 127.0.0.1) that speaks real exchange dialects,
so ccxt's signing, parsing and error mapping run for real in tests and benchmarks."""

from __future__ import annotations

from urllib.parse import urlsplit

import ccxt.async_support as ccxt_async


def point_ccxt_at(exchange: ccxt_async.Exchange, base_url: str, ws_url: str | None = None) -> None:
    """Rewrite every REST URL of ``exchange`` to ``base_url`` (scheme and host), keeping the
    path, and with ``ws_url`` every websocket URL to ``ws_url`` + ``/stream`` + its path;
    switch off the calls an offline emulator does not serve."""

    def rewrite(urls: dict) -> None:
        for key, url in list(urls.items()):
            if isinstance(url, str) and url.startswith("http"):
                urls[key] = base_url + urlsplit(url).path
            elif isinstance(url, str) and url.startswith("ws") and ws_url is not None:
                urls[key] = ws_url + "/stream" + urlsplit(url).path
            elif isinstance(url, dict):
                rewrite(url)

    rewrite(exchange.urls["api"])
    exchange.has["fetchCurrencies"] = False
    exchange.options["fetchMarkets"] = {"types": ["spot"]}
    exchange.options["fetchMargins"] = False
