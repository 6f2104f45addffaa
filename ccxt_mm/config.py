"""Schema of ``config.yaml``: frozen, unknown keys rejected, every error names its key.

The sections the pure layers read (``market``, ``spread``, ``risk``, ``orders``, ``paper`` and
the built-in strategy's ``strategy.params``) are those layers' parameter dataclasses, each field
declared once there (see :mod:`ccxt_mm.schema`); the sections only outer layers read are declared
here. Secrets never appear here: only the *names* of environment variables that hold them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from ccxt_mm.errors import ConfigError
from ccxt_mm.execution.market import MarketParams, unified_symbol
from ccxt_mm.execution.orders import OrdersParams
from ccxt_mm.execution.paper import PaperParams
from ccxt_mm.quoting.constraints import NonNegative, Positive
from ccxt_mm.quoting.portfolio import PortfolioParams
from ccxt_mm.quoting.risk import RiskParams
from ccxt_mm.quoting.spread import SpreadParams
from ccxt_mm.schema import Section, Strict


class BookConfig(Strict):
    levels: Annotated[int, Field(ge=1, le=1000)] = 20
    near_bps: Positive = 10.0
    impact_qty: Positive = 1.0
    trade_flow_half_life_secs: Positive = 5.0


class ReportConfig(Strict):
    markout_secs: Positive = 5.0
    plot: bool = True
    every_secs: Positive | None = None
    """``ccxt-mm run --report-dir``: also write the run report every this many seconds while
    quoting (null: only on exit and on SIGUSR1)."""


class StrategyConfig(Strict):
    name: str = "market_maker"
    timer_secs: Positive = 1.0
    params: dict[str, Any] = Field(default_factory=dict)


class ExchangeCredentials(Strict):
    """Names of the environment variables holding an exchange's API credentials."""

    api_key_env: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    secret_env: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    password_env: str | None = Field(None, pattern=r"^[A-Z][A-Z0-9_]*$")


_DIALECTS = Path(__file__).resolve().parent / "exchange" / "dialects"


def dialect_names() -> tuple[str, ...]:
    """The exchanges with a dialect module: the files of ``exchange/dialects/``, listed without
    importing the exchange edge (that would put its ccxt loader in front of ``import ccxt``)."""
    return tuple(sorted(p.stem for p in _DIALECTS.glob("*.py") if not p.stem.startswith("_")))


def _known_exchange(value: str) -> str:
    """An exchange with a dialect module in :mod:`ccxt_mm.exchange.dialects`."""
    known = dialect_names()
    if value not in known:
        raise ValueError(f"expected one of {', '.join(known)}")
    return value


class LiveMarketConfig(Strict):
    exchange: Annotated[str, AfterValidator(_known_exchange)]
    symbol: Annotated[str, AfterValidator(unified_symbol)]
    """``BASE/QUOTE`` (spot) or ``BASE/QUOTE:SETTLE`` (a perpetual swap: sizes in contracts)."""


class LiveConfig(Strict):
    """``ccxt-mm run``: one quoting task per (exchange, symbol), all in one process."""

    markets: tuple[LiveMarketConfig, ...] = (
        LiveMarketConfig(exchange="binance", symbol="BTC/USDT"),
        LiveMarketConfig(exchange="okx", symbol="BTC/USDT"),
        LiveMarketConfig(exchange="bybit", symbol="BTC/USDT"),
    )
    book_depth: Annotated[int, Field(ge=1, le=1000)] = 20
    websocket: bool = True
    ws_fallback_after: Annotated[int, Field(ge=0)] = 3
    """Websocket failures in a row after which a feed polls REST instead for ``ws_retry_secs``
    (0: never; the market's quotes stay pulled while its websocket is down)."""
    ws_retry_secs: Positive = 30.0
    """How long a feed polls REST after falling back before it tries its websocket again."""
    poll_secs: Positive = 1.0
    stale_secs: Positive = 5.0
    fill_poll_secs: Positive = 2.0
    backoff_max_secs: Positive = 30.0
    sandbox: bool = False
    grid_span: Annotated[float, Field(gt=0, le=0.5)] = 0.001
    """Half-width of the paper venue's live book grid as a fraction of price (rebuilt if left)."""
    reconcile_secs: Positive = 30.0
    """Period of the open-order, fill and balance reconciliation with the exchange."""
    order_budget_per_min: Positive = 120.0
    """Creates + cancels one market may send per minute (on top of ccxt's request pacing)."""
    dead_man_secs: Positive = 60.0
    """Exchange-side cancel-all-after timeout, refreshed every third of it (okx, bybit)."""
    margin_mode: Literal["cross", "isolated"] = "cross"
    """Every swap's margin mode, set on the account at start (``--live``)."""
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 0
    """Serve Prometheus metrics on 127.0.0.1:<port> (0: off)."""
    rest_urls: dict[str, str] = Field(default_factory=dict)
    """Exchange → base URL replacing its REST host (a local emulator or a proxy)."""
    ws_urls: dict[str, str] = Field(default_factory=dict)
    """Exchange → base URL replacing its websocket hosts (``ws://...``; each websocket URL's path
    follows its host's first label: ``wss://fstream.binance.com/ws`` → ``<url>/fstream/ws``);
    only with that exchange's ``rest_urls``."""
    state_file: str = "state/live_state.json"
    """``--live`` only: today's loss, the drawdown and the fills seen, kept over restarts."""
    state_secs: Positive = 5.0
    """How often the state file is written while quoting (and at shutdown)."""

    @model_validator(mode="after")
    def _ws_urls_with_rest_urls(self) -> LiveConfig:
        alone = sorted(set(self.ws_urls) - set(self.rest_urls))
        if alone:
            raise ValueError(f"ws_urls given without rest_urls for {alone}: an emulator or proxy serves both")
        return self


class CaptureConfig(Strict):
    """``ccxt-mm capture``: what to record and where; each command-line flag overrides its key.
    The ``live`` section sets how (websocket or polling, poll interval, URLs)."""

    exchange: str | None = Field(None, pattern=r"^[a-z][a-z0-9]*$")
    """A ccxt.pro exchange id (any exchange ccxt.pro speaks, not only those with a dialect)."""
    symbols: tuple[Annotated[str, Field(pattern=r"^[A-Z0-9]+/[A-Z0-9]+(:[A-Z0-9]+(-[A-Z0-9-]+)?)?$")], ...] = ()
    """Unified symbols, ``BASE/QUOTE`` (a derivative's ``BASE/QUOTE:SETTLE``)."""
    book_depth: Annotated[int, Field(ge=1, le=1000)] = 20
    """Levels a side taken from each order book."""
    out_dir: str = "store"
    """The event store (made if missing; files are added to it)."""
    rotate_secs: Positive = 3600.0
    """A new file per this many seconds of receive time."""
    duration_secs: Positive | None = None
    """Stop after this many seconds (None: until SIGINT / SIGTERM)."""
    progress_secs: Positive = 5.0
    """How often the progress line is printed."""
    trades_cache: Annotated[int, Field(ge=2, le=1_000_000)] = 10_000
    """Trades ccxt.pro keeps per symbol between two reads of the websocket (its ``tradesLimit``,
    1,000 by default): a read that finds the cache full may have lost older trades, and is
    written as a gap."""


class ModelPrice(Strict):
    """US dollars per million tokens."""

    input: NonNegative
    output: NonNegative


def _default_prices() -> dict[str, ModelPrice]:
    return {
        "gpt-4.1": ModelPrice(input=2.00, output=8.00),
        "gpt-4.1-mini": ModelPrice(input=0.40, output=1.60),
        "gpt-4o-mini": ModelPrice(input=0.15, output=0.60),
        "claude-sonnet-4.5": ModelPrice(input=3.00, output=15.00),
        "gemini-2.5-flash": ModelPrice(input=0.30, output=2.50),
        "deepseek-v3.2": ModelPrice(input=0.28, output=0.42),
    }


class LlmConfig(Strict):
    """Predictions that may bias quotes; never on the quoting path."""

    predictor: Literal["none", "imbalance", "llm"] = "none"
    """``none``; ``imbalance`` (local, from the book); ``llm`` (needs the key below; without it
    there are no calls and the predictor is ``none``)."""
    base_url: str = Field("https://api.openai.com/v1", pattern=r"^https?://")
    model: str = "gpt-4.1-mini"
    api_key_env: str = Field("OPENAI_API_KEY", pattern=r"^[A-Z][A-Z0-9_]*$")
    response_format: bool = True
    """Ask for ``response_format: json_object`` (turn off for servers that reject it)."""
    max_tokens: Annotated[int, Field(ge=16, le=4096)] = 300
    requests_per_minute: Positive = 30.0
    tokens_per_minute: Positive = 40_000.0
    attempt_timeout_secs: Positive = 10.0
    deadline_secs: Positive = 20.0
    """Overall time one prediction call may take, retries and waits included."""
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 4
    backoff_initial_secs: Positive = 0.5
    backoff_max_secs: Positive = 8.0
    breaker_failures: Annotated[int, Field(ge=1)] = 5
    """Consecutive failed calls that open the circuit breaker."""
    breaker_cooldown_secs: Positive = 300.0
    budget_usd: NonNegative = 5.0
    """No call is made once this much has been spent in the run."""
    prices: dict[str, ModelPrice] = Field(default_factory=_default_prices)
    interval_secs: Positive = 30.0
    """At most one prediction per symbol this often."""
    batch_size: Annotated[int, Field(ge=1, le=50)] = 8
    """Symbols asked about in one request."""
    stale_secs: Positive = 120.0
    """A prediction older than this is ignored."""
    replay_latency_secs: NonNegative = 1.0
    """In replay, time from a request to its prediction being usable, on top of any waits."""

    @model_validator(mode="after")
    def _model_has_a_price(self) -> LlmConfig:
        if self.predictor == "llm" and self.model not in self.prices:
            raise ValueError(f"llm.model {self.model!r} has no entry in llm.prices (needed for the budget cap)")
        return self


class AppConfig(Strict):
    """The whole config. The sections typed ``Section[...]`` are the parameter dataclasses of the
    pure layers themselves (see :mod:`ccxt_mm.schema`); the others are declared here."""

    market: Section[MarketParams] = Field(default_factory=MarketParams)
    book: BookConfig = BookConfig()
    strategy: StrategyConfig = StrategyConfig()
    spread: Section[SpreadParams] = Field(default_factory=SpreadParams)
    risk: Section[RiskParams] = Field(default_factory=RiskParams)
    portfolio: Section[PortfolioParams] = Field(default_factory=PortfolioParams)
    orders: Section[OrdersParams] = Field(default_factory=OrdersParams)
    paper: Section[PaperParams] = Field(default_factory=PaperParams)
    report: ReportConfig = ReportConfig()
    live: LiveConfig = LiveConfig()
    capture: CaptureConfig = CaptureConfig()
    exchanges: dict[str, ExchangeCredentials] = Field(default_factory=dict)
    llm: LlmConfig = LlmConfig()


_WORDS: dict[str, str] = {
    "missing": "required",
    "extra_forbidden": "unknown key",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "finite_number": "must be a finite number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected text",
    "string_pattern_mismatch": "must match the pattern {pattern}",
    "enum": "expected {expected}",
    "literal_error": "expected {expected}",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping of keys",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "too_short": "expected at least {min_length} items (got {actual_length})",
    "too_long": "expected at most {max_length} items (got {actual_length})",
    "value_error": "{error}",
    "assertion_error": "{error}",
}
"""Our words for pydantic's error types; ``{name}`` is filled from the error's context."""

_NO_GOT = frozenset({"missing", "extra_forbidden", "too_short", "too_long"})
"""Error types whose message does not end with the value that was given."""


def _words(err: ErrorDetails) -> str:
    """What is wrong, in our words (pydantic's own text for a type not in :data:`_WORDS`),
    with the value given when it is a single value."""
    ctx = {k: f"{v:g}" if isinstance(v, float) else v for k, v in err.get("ctx", {}).items()}
    template = _WORDS.get(err["type"])
    text = err["msg"] if template is None else template.format(**ctx)
    value = err.get("input")
    if err["type"] in _NO_GOT or isinstance(value, dict | list | tuple):
        return text
    shown = repr(value)
    return f"{text} (got {shown if len(shown) <= 60 else shown[:57] + '...'})"


def validation_problems(exc: ValidationError, prefix: str = "", names: dict[str, str] | None = None) -> list[str]:
    """One ``key.path: what is wrong (got value)`` line per pydantic error, never pydantic's
    URL; ``names`` renames a key (the command line's ``--tick-size`` for ``tick_size``)."""
    out = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"])
        name = (names or {}).get(key) or f"{prefix}{key}".rstrip(".")
        out.append(f"{name}: {_words(err)}")
    return out


def parse_config(raw: Any, source: str) -> AppConfig:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(source, ["top level: expected a mapping of sections"])
    try:
        return AppConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc)) from exc


class _Loader(yaml.SafeLoader):
    """YAML's safe loader with YAML 1.2's booleans, only ``true`` and ``false``, and its floats
    with an exponent and no dot (``1e-5``, text in YAML 1.1). YAML 1.1 also reads ``yes``,
    ``no``, ``on`` and ``off`` as booleans: ``off`` then could not switch a limit off, and an
    asset ``NO`` (``max_asset_base: {NO: 5}``) would become ``false`` (a boolean field still
    takes the words, as text)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(  # YAML 1.2's floats too: 1e-12 and 5e3 are numbers (YAML 1.1 wants a dot)
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789")
)


def read_yaml(path: str | Path) -> Any:
    """The YAML document in the file ``path`` as plain data (safe tags only); a file that cannot
    be read or parsed is a :class:`ConfigError` naming it."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from exc
    try:
        return yaml.load(text, Loader=_Loader)  # a safe loader (see _Loader)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"invalid YAML: {exc}"]) from exc


def load_config(path: str | Path) -> AppConfig:
    """Read and validate a YAML config; relative data paths are kept as written."""
    return parse_config(read_yaml(path), str(path))
