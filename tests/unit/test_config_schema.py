"""Each config key is declared once: the sections the pure layers read are their parameter
dataclasses, built with keywords from the YAML and checked with the bounds their fields declare."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from typing import Annotated, get_type_hints

import pytest
from annotated_types import Ge, Le
from pydantic import BaseModel

from ccxt_mm import config as config_module
from ccxt_mm.compiled import is_compiled
from ccxt_mm.config import AppConfig, parse_config
from ccxt_mm.errors import ConfigError
from ccxt_mm.execution.market import SYMBOL_FORMAT, MarketParams
from ccxt_mm.execution.orders import OrdersParams
from ccxt_mm.execution.paper import PaperParams, QueueModel
from ccxt_mm.quoting.constraints import NonNegative, Positive
from ccxt_mm.quoting.portfolio import PortfolioParams
from ccxt_mm.quoting.risk import ReduceOnlyStyle, RiskParams
from ccxt_mm.quoting.spread import SpreadParams, VolRegime
from ccxt_mm.quoting.strategy import MarketMakerParams, ModelName
from ccxt_mm.schema import declared_types, section_keys, section_model
from ccxt_mm.strategies import load_strategy

PURE_LAYERS = ("ccxt_mm.book", "ccxt_mm.quoting", "ccxt_mm.execution", "ccxt_mm.engine.envelope")
DATACLASS_SECTIONS = {
    "market": MarketParams,
    "spread": SpreadParams,
    "risk": RiskParams,
    "portfolio": PortfolioParams,
    "orders": OrdersParams,
    "paper": PaperParams,
}
STRATEGY_PARAMS = MarketMakerParams
"""``strategy.params`` of the built-in ``market_maker``."""
ALL_PARAMS = [*DATACLASS_SECTIONS.values(), STRATEGY_PARAMS]


def pure_params() -> set[type]:
    """Every parameter dataclass (``*Params``) the pure layers define."""
    modules = []
    for name in PURE_LAYERS:
        module = importlib.import_module(name)
        modules.append(module)
        if hasattr(module, "__path__"):
            modules += [importlib.import_module(f"{name}.{info.name}") for info in pkgutil.iter_modules(module.__path__)]
    return {
        obj
        for module in modules
        for obj in vars(module).values()
        if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and obj.__name__.endswith("Params") and obj.__module__ == module.__name__
    }


def config_models() -> list[type[BaseModel]]:
    """The section models ``config.py`` declares itself."""
    return [
        obj
        for obj in vars(config_module).values()
        if inspect.isclass(obj) and issubclass(obj, BaseModel) and obj.__module__ == config_module.__name__
    ]


def default(field: dataclasses.Field) -> object:
    """A dataclass field's default value (its factory's product)."""
    return field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default


# --- declared once -------------------------------------------------------------------------
def test_the_sections_the_pure_layers_read_are_their_dataclasses():
    sections = {name: field.annotation for name, field in AppConfig.model_fields.items() if dataclasses.is_dataclass(field.annotation)}
    assert sections == DATACLASS_SECTIONS
    assert pure_params() == set(ALL_PARAMS), "a parameter dataclass no config section is"


@pytest.mark.parametrize("cls", ALL_PARAMS, ids=lambda c: c.__name__)
def test_a_dataclass_sections_keys_are_its_fields_and_nothing_else(cls):
    fields = tuple(f.name for f in dataclasses.fields(cls))
    assert section_keys(cls) == fields == tuple(section_model(cls).model_fields)
    assert {name: f.default for name, f in section_model(cls).model_fields.items() if f.default_factory is None} == {
        f.name: f.default for f in dataclasses.fields(cls) if f.default_factory is dataclasses.MISSING
    }


def test_no_field_is_declared_twice():
    """A key of a parameter dataclass is declared by no other dataclass and by no model in
    ``config.py`` (same name and default: a copy)."""
    seen: dict[str, str] = {}
    for cls in sorted(pure_params(), key=lambda c: c.__name__):
        for f in dataclasses.fields(cls):
            assert f.name not in seen, f"{f.name} is declared by {seen[f.name]} and {cls.__name__}"
            seen[f.name] = cls.__name__
    copies = [
        f"{model.__name__}.{name} copies {cls.__name__}.{name}"
        for model in config_models()
        for name, info in model.model_fields.items()
        for cls in pure_params()
        for f in dataclasses.fields(cls)
        if f.name == name and info.get_default(call_default_factory=True) == default(f)
    ]
    assert not copies


@pytest.mark.parametrize("cls", ALL_PARAMS, ids=lambda c: c.__name__)
def test_parameters_are_built_with_keywords_only(cls):
    values = [default(f) for f in dataclasses.fields(cls)]
    with pytest.raises(TypeError):
        cls(*values)
    assert cls(**{f.name: v for f, v in zip(dataclasses.fields(cls), values, strict=True)}) == cls()


# --- types and bounds from the declaration -------------------------------------------------
@pytest.mark.parametrize("cls", ALL_PARAMS, ids=lambda c: c.__name__)
def test_the_schema_reads_the_types_the_source_declares(cls):
    """What the schema reads is what ``typing`` reads from a pure-Python class (a compiled one
    keeps erased annotations only)."""
    if is_compiled(cls.__module__):
        pytest.skip("compiled: typing sees erased annotations")
    assert declared_types(cls) == get_type_hints(cls, include_extras=True)


def test_bounds_are_read_from_the_declaration_in_either_build():
    assert declared_types(SpreadParams)["min_spread_bps"] == Annotated[float, Ge(0)]
    assert declared_types(OrdersParams)["max_levels"] == Annotated[int, Ge(1), Le(50)]
    assert declared_types(MarketMakerParams)["prediction_spread_range"] == tuple[Positive, Positive]
    assert declared_types(PaperParams)["initial_base"] == NonNegative | None


# --- the conversion, with values -----------------------------------------------------------
RAW = {
    "market": {
        "symbol": "LTC/USDT",
        "tick_size": 0.01,
        "lot_size": 0.001,
        "min_order_base": 0.1,
        "min_notional_quote": 5,
        "data": ["a.gz", "b.gz"],
    },
    "spread": {
        "regime_sigma_bps": [0.5, 1, 3],
        "base_bps": {"low": 4, "medium": 8, "high": 16, "extreme": 40},
        "inventory_widen": 2,
        "min_spread_bps": 6,
        "cooldown_secs": 60,
        "stress_impact_bps": 150,
        "stress_imbalance": 0.9,
        "stress_multiplier": 3,
        "depth_window": 100,
        "depth_sample_secs": 2,
    },
    "risk": {
        "max_position_base": 5,
        "max_exposure_quote": 1000,
        "daily_loss_limit_quote": 50,
        "max_drawdown_quote": 80,
        "inventory_risk_pause": 0.6,
        "concentration_threshold": 0.2,
        "concentration_multiplier": 2,
        "reduce_only": "active",
        "active_slice_fraction": 0.25,
        "active_interval_secs": 3,
        "reduce_to_fraction": 0.5,
        "target_allocation": {"LTC": 0.3},
    },
    "orders": {
        "tolerance_bps": 1,
        "size_tolerance": 0.2,
        "max_age_secs": 30,
        "client_id_prefix": "ltc1",
        "max_levels": 4,
        "post_only_cross": "drop",
        "max_distance_bps": 500,
    },
    "paper": {
        "entry_latency_ms": 15,
        "cancel_latency_ms": 5,
        "maker_fee_bps": -1,
        "taker_fee_bps": 4,
        "queue_model": "risk_averse",
        "amend_supported": True,
        "initial_quote": 2000,
        "initial_base": 1.5,
    },
    "strategy": {
        "params": {
            "model": "avellaneda_stoikov",
            "gamma": 0.1,
            "horizon_secs": 30,
            "order_qty": 0.5,
            "max_inventory_units": 4,
            "levels": 3,
            "level_step_bps": 1,
            "use_microprice": False,
            "prior_sigma_bps": 1,
            "vol_half_life_secs": 10,
            "prior_a": 2,
            "prior_k": 0.3,
            "calib_deltas_bps": [0, 1, 2],
            "calib_window_secs": 60,
            "calib_min_trades": 20,
            "calib_min_secs": 5,
            "uncalibrated_widen": 1.2,
            "prediction_shift_bps": 1,
            "prediction_spread_range": [0.5, 1.5],
        }
    },
}


def test_every_value_of_the_yaml_reaches_the_layers_dataclass():
    config = parse_config(RAW, "t.yaml")
    assert config.market == MarketParams(
        symbol="LTC/USDT", tick_size=0.01, lot_size=0.001, min_order_base=0.1, min_notional_quote=5.0, data=("a.gz", "b.gz")
    )
    assert (config.market.base, config.market.quote) == ("LTC", "USDT")
    assert config.spread == SpreadParams(
        regime_sigma_bps=(0.5, 1.0, 3.0),
        base_bps={VolRegime.LOW: 4.0, VolRegime.MEDIUM: 8.0, VolRegime.HIGH: 16.0, VolRegime.EXTREME: 40.0},
        inventory_widen=2.0,
        min_spread_bps=6.0,
        cooldown_secs=60.0,
        stress_impact_bps=150.0,
        stress_imbalance=0.9,
        stress_multiplier=3.0,
        depth_window=100,
        depth_sample_secs=2.0,
    )
    assert config.risk == RiskParams(
        max_position_base=5.0,
        max_exposure_quote=1000.0,
        daily_loss_limit_quote=50.0,
        max_drawdown_quote=80.0,
        inventory_risk_pause=0.6,
        concentration_threshold=0.2,
        concentration_multiplier=2.0,
        reduce_only=ReduceOnlyStyle.ACTIVE,
        active_slice_fraction=0.25,
        active_interval_secs=3.0,
        reduce_to_fraction=0.5,
        target_allocation={"LTC": 0.3},
    )
    assert config.orders == OrdersParams(
        tolerance_bps=1.0,
        size_tolerance=0.2,
        max_age_secs=30.0,
        client_id_prefix="ltc1",
        max_levels=4,
        post_only_cross="drop",
        max_distance_bps=500.0,
    )
    assert config.paper == PaperParams(
        entry_latency_ms=15.0,
        cancel_latency_ms=5.0,
        maker_fee_bps=-1.0,
        taker_fee_bps=4.0,
        queue_model=QueueModel.RISK_AVERSE,
        amend_supported=True,
        initial_quote=2000.0,
        initial_base=1.5,
    )
    assert type(config.spread.regime_sigma_bps) is tuple and type(config.spread.depth_window) is int
    assert type(config.risk.max_position_base) is float and config.risk.reduce_only is ReduceOnlyStyle.ACTIVE


def test_the_strategy_gets_its_params_and_the_spread_section_as_they_are():
    config = parse_config(RAW, "t.yaml")
    strategy = load_strategy(config)
    assert strategy.p == MarketMakerParams(
        model=ModelName.AVELLANEDA_STOIKOV,
        gamma=0.1,
        horizon_secs=30.0,
        order_qty=0.5,
        max_inventory_units=4.0,
        levels=3,
        level_step_bps=1.0,
        use_microprice=False,
        prior_sigma_bps=1.0,
        vol_half_life_secs=10.0,
        prior_a=2.0,
        prior_k=0.3,
        calib_deltas_bps=(0.0, 1.0, 2.0),
        calib_window_secs=60.0,
        calib_min_trades=20,
        calib_min_secs=5.0,
        uncalibrated_widen=1.2,
        prediction_shift_bps=1.0,
        prediction_spread_range=(0.5, 1.5),
    )
    assert strategy.spread.p is config.spread


def test_defaults_are_the_dataclasses_defaults_and_a_dump_loads_back():
    config = AppConfig()
    assert {name: getattr(config, name) for name in DATACLASS_SECTIONS} == {name: cls() for name, cls in DATACLASS_SECTIONS.items()}
    assert parse_config(config.model_dump(mode="json"), "dump") == config
    loaded = parse_config(RAW, "t.yaml")
    assert parse_config(loaded.model_dump(mode="json"), "dump") == loaded


@pytest.mark.parametrize(
    ("raw", "problems"),
    [
        ({"orders": {"client_id_prefix": "ab-c"}}, ["orders.client_id_prefix: must match the pattern ^[A-Za-z0-9]{1,8}$ (got 'ab-c')"]),
        (
            {"market": {"symbol": "btc/usdt"}},
            [f"market.symbol: {SYMBOL_FORMAT} (got 'btc/usdt')"],
        ),
        (
            {"paper": {"maker_fee_bps": -11, "initial_base": -1}},
            [
                "paper.maker_fee_bps: must be at least -10 and at most 100 (got -11)",
                "paper.initial_base: must be at least 0 and at most 1e+15 (got -1)",
            ],
        ),
        (
            {"risk": {"target_allocation": {"BTC": 2}, "tolerance_bps": 1}},
            ["risk.target_allocation.BTC: must be at least 0 and at most 1 (got 2)", "risk.tolerance_bps: unknown key"],
        ),
        ({"risk": 5}, ["risk: expected a mapping of keys (got 5)"]),
        ({"spread": {"regime_sigma_bps": [3, 2, 1]}}, ["spread: regime_sigma_bps must be increasing"]),
        ({"orders": {"post_only_cross": "x"}}, ["orders.post_only_cross: expected 'passive' or 'drop' (got 'x')"]),
        ({"strategy": {"params": {"levels": 2000}}}, ["strategy.params.levels: must be at least 1 and at most 20 (got 2000)"]),
        (
            {"strategy": {"params": {"prediction_spread_range": [0.5, 0.9]}}},
            ["strategy.params: prediction_spread_range [0.5, 0.9] must contain 1.0 (low <= 1 <= high)"],
        ),
    ],
)
def test_errors_name_the_key_in_the_configs_words(raw, problems):
    with pytest.raises(ConfigError) as exc:
        load_strategy(parse_config(raw, "t.yaml"), "t.yaml")
    assert exc.value.problems == problems
