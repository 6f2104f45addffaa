"""Config sections made from the pure layers' parameter dataclasses, so each field is declared once.

The pure layers (book, quoting, execution, the envelope) declare their parameters as frozen,
keyword-only dataclasses: each field's name, type with its bounds (``typing.Annotated``, see
:mod:`ccxt_mm.quoting.constraints`), default and docstring with units. A config section typed
``Section[SomeParams]`` has exactly that dataclass's fields as its keys: pydantic validates the
YAML mapping against a model generated from the dataclass (unknown keys refused, every bound
checked, errors located at ``section.key``) and the section's value is the dataclass itself,
built with keywords, which the layer uses as it is: nothing is copied field by field.

A mypyc-compiled dataclass keeps only erased types in ``__annotations__`` (``float`` for
``Annotated[float, Gt(0)]``, ``type`` for a tuple), so the types are read from the module's
source, which ships beside the compiled module, and evaluated in the module's namespace, as
``typing.get_type_hints`` does for annotations under ``from __future__ import annotations``.
"""

from __future__ import annotations

import ast
import dataclasses
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Final, TypeVar, Union, cast, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StringConstraints,
    TypeAdapter,
    create_model,
)
from pydantic.fields import FieldInfo
from pydantic_core import CoreSchema, core_schema

from ccxt_mm.compiled import source_path
from ccxt_mm.quoting.constraints import Check, Off, Pattern

T = TypeVar("T")

UNIT_MAX: Final = {"_secs": 31_536_000.0, "_ms": 60_000.0, "_bps": 10_000.0, "_base": 1e15, "_qty": 1e15}
"""The largest value of a number whose name ends with the unit, when its field declares no
upper bound: a year of seconds, a minute of milliseconds, 100 % in bps, 10¹⁵ base units (a
token priced at 10⁻⁹ has a million quote in 10¹⁵ of them; still below 2⁵³)."""
NUMBER_MAX: Final = 1e12
"""The largest value of any other number without an upper bound of its own (an amount, a
rate, a count): far above any real one, far below where float arithmetic loses whole units."""


def number_max(name: str) -> float:
    """The upper bound a number field called ``name`` gets when it declares none."""
    return next((top for unit, top in UNIT_MAX.items() if name.endswith(unit)), NUMBER_MAX)


def number_text(x: float) -> str:
    """``x`` as the config would write it (31536000, 0.5, 1e+12)."""
    return f"{x:.12g}"


@dataclass(frozen=True, slots=True)
class Range:
    """The values a number field takes: its declared bounds, and an upper one from
    :func:`number_max` where it declares none. Checked as one, so that a value out of range
    is refused with the whole range; read by the schema fuzz test."""

    low: float | None
    low_open: bool
    high: float
    high_open: bool

    def text(self) -> str:
        """``greater than 0 and at most 1e+12``."""
        high = f"{'less than' if self.high_open else 'at most'} {number_text(self.high)}"
        if self.low is None:
            return high
        return f"{'greater than' if self.low_open else 'at least'} {number_text(self.low)} and {high}"

    def __call__(self, value: float) -> float:
        """``value`` when in range; else ``ValueError`` naming the range."""
        low_ok = self.low is None or (value > self.low if self.low_open else value >= self.low)
        if not low_ok or not (value < self.high if self.high_open else value <= self.high):
            raise ValueError(f"must be {self.text()}")
        return value


def _not_bool(value: Any) -> Any:
    """A number, never ``true``/``false`` (which pydantic would take as 1 and 0); ``off``
    where the field is not a limit that may be switched off says so."""
    if isinstance(value, bool):
        raise ValueError("expected a number")
    if value == "off":
        raise ValueError("cannot be switched off: expected a number")
    return value


def _off_is_none(value: Any) -> Any:
    """``off`` (or ``false``) for a limit that may be switched off: None."""
    return None if value is False or value == "off" else value


_NOT_BOOL = BeforeValidator(_not_bool)
_OFF = BeforeValidator(_off_is_none)


def _bound(metadata: Sequence[Any], names: tuple[str, str]) -> tuple[float | None, bool]:
    """The bound ``metadata`` sets by ``names`` (open, closed: ``("gt", "ge")``), and whether
    it is open; (None, False) without one."""
    for m in metadata:
        for name, is_open in zip(names, (True, False), strict=True):
            value = getattr(m, name, None)
            if value is not None:
                return float(value), is_open
    return None, False


def _bounded(base: type, metadata: Sequence[Any], top: float) -> list[Any]:
    """A number's metadata: booleans refused, and its bounds (capped at ``top`` without an
    upper one) checked as one :class:`Range`."""
    metadata = [part for m in metadata for part in (m.metadata if isinstance(m, FieldInfo) else [m])]  # Field(ge=...) inside a union
    low, low_open = _bound(metadata, ("gt", "ge"))
    high, high_open = _bound(metadata, ("lt", "le"))
    if high is None:
        high, high_open = (top if base is float else float(min(top, 1e9))), False
    others = [m for m in metadata if not isinstance(m, Gt | Ge | Lt | Le)]
    return [_NOT_BOOL, *others, AfterValidator(Range(low, low_open, high, high_open))]


def number_range(metadata: Sequence[Any]) -> Range | None:
    """The :class:`Range` in a number field's metadata (None: not a number field)."""
    return next((m.func for m in metadata if isinstance(m, AfterValidator) and isinstance(m.func, Range)), None)


def with_number_rules(tp: Any, top: float) -> Any:
    """Type ``tp`` with every number in it (alone, optional, in a tuple or a mapping's values)
    refusing booleans and capped at ``top`` unless it has an upper bound; a union with None
    that is marked :class:`~ccxt_mm.quoting.constraints.Off` also takes ``off``."""
    origin = get_origin(tp)
    if tp is float or tp is int:
        return Annotated[tp, *_bounded(tp, (), top)]
    if origin is Annotated:
        base, *metadata = get_args(tp)
        if base is float or base is int:
            return Annotated[base, *_bounded(base, metadata, top)]
        if any(isinstance(m, Off) for m in metadata):
            return Annotated[with_number_rules(base, top), _OFF]
        return tp
    if origin is Union or origin is types.UnionType:
        return Union[tuple(with_number_rules(arg, top) for arg in get_args(tp))]  # noqa: UP007  # built from a tuple
    if origin is tuple:
        return tuple[tuple(arg if arg is Ellipsis else with_number_rules(arg, top) for arg in get_args(tp))]  # type: ignore[misc]
    if origin is dict:
        key, value = get_args(tp)
        return dict[key, with_number_rules(value, top)]  # type: ignore[valid-type]
    return tp


class Strict(BaseModel):
    """A config section: frozen, unknown keys refused, every number finite (`.inf` and `.nan`
    refused with the key: a limit is switched off by its own setting, never by infinity), never
    a boolean, and within its field's bounds or, without an upper bound, :func:`number_max`."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Every number field of a new section gets the rules of :func:`with_number_rules`
        (its bounds as it declares them, in ``metadata``, are kept)."""
        super().__pydantic_init_subclass__(**kwargs)
        changed = False
        for name, info in cls.model_fields.items():
            top = number_max(name)
            if info.annotation is float or info.annotation is int:
                info.metadata[:] = _bounded(info.annotation, info.metadata, top)
                changed = True
            else:
                ruled = with_number_rules(info.annotation, top)
                if any(isinstance(m, Off) for m in info.metadata):
                    ruled, changed = Annotated[ruled, _OFF], True
                if ruled != info.annotation:
                    info.annotation, changed = ruled, True
        if changed:
            cls.model_rebuild(force=True)


def declared_types(cls: type) -> dict[str, Any]:
    """Each annotated name of class ``cls`` → its type as its source writes it, bounds included
    (the same in the compiled build, whose ``__annotations__`` are erased)."""
    path = source_path(cls.__module__)
    tree = ast.parse(path.read_text(), str(path))
    body = next(node.body for node in tree.body if isinstance(node, ast.ClassDef) and node.name == cls.__name__)
    namespace = vars(sys.modules[cls.__module__])
    return {
        stmt.target.id: eval(compile(ast.Expression(stmt.annotation), str(path), "eval"), namespace)
        for stmt in body
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
    }


def _pydantic_metadata(item: object) -> object:
    """A field constraint of :mod:`ccxt_mm.quoting.constraints` as pydantic's; any other as it is."""
    if isinstance(item, Pattern):
        return StringConstraints(pattern=item.regex)
    if isinstance(item, Check):
        return AfterValidator(item.check)
    return item


def _pydantic_type(tp: Any) -> Any:
    """``tp`` with this package's constraints in its ``Annotated`` metadata made pydantic's
    (the field's own metadata: a constraint applies to the field's whole value)."""
    if get_origin(tp) is not Annotated:
        return tp
    base, *metadata = get_args(tp)
    return Annotated[base, *(_pydantic_metadata(m) for m in metadata)]


def _default(field: dataclasses.Field) -> FieldInfo:
    """The field's default or default factory, as pydantic's (required without either)."""
    if field.default_factory is not dataclasses.MISSING:
        return Field(default_factory=field.default_factory)
    return Field(... if field.default is dataclasses.MISSING else field.default)


@cache
def section_model(cls: type) -> type[Strict]:
    """The pydantic model a YAML mapping is checked with before it becomes a ``cls``: the
    dataclass's fields, types and defaults."""
    types = declared_types(cls)
    fields: dict[str, Any] = {f.name: (_pydantic_type(types[f.name]), _default(f)) for f in dataclasses.fields(cls)}
    return create_model(cls.__name__, __base__=Strict, __module__=cls.__module__, **fields)


def as_mapping(params: Any) -> dict[str, Any]:
    """Field name → value of a parameter dataclass (the values themselves, not copies)."""
    return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}


class _FromDataclass:
    """``Annotated`` metadata validating the annotated dataclass as a config section: a mapping
    is checked with :func:`section_model` and the dataclass built from it with keywords; an
    instance is taken as it is (as pydantic takes a model instance)."""

    def __get_pydantic_core_schema__(self, source: type, handler: GetCoreSchemaHandler) -> CoreSchema:
        model = section_model(source)

        def construct(value: Any, validate: core_schema.ValidatorFunctionWrapHandler) -> Any:
            if isinstance(value, source):
                return value
            valid = validate(value)
            return source(**{name: getattr(valid, name) for name in model.model_fields})

        return core_schema.no_info_wrap_validator_function(
            construct, handler.generate_schema(model), serialization=core_schema.plain_serializer_function_ser_schema(as_mapping)
        )


_FROM_DATACLASS = _FromDataclass()
Section = Annotated[T, _FROM_DATACLASS]
"""``Section[SomeParams]``: a config section whose keys are the fields of dataclass ``SomeParams``."""


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def parse_section(cls: type[T], raw: Mapping[str, Any]) -> T:
    """A ``cls`` from the mapping of a config section; raises pydantic's ``ValidationError``."""
    adapter = _ADAPTERS.get(cls)
    if adapter is None:
        adapter = _ADAPTERS[cls] = TypeAdapter(Annotated[cls, _FROM_DATACLASS])  # type: ignore[arg-type]  # a form built at run time
    return cast(T, adapter.validate_python(raw))


def section_keys(section_type: type[Any]) -> tuple[str, ...]:
    """The YAML keys of a section of type ``section_type``: a :class:`Strict` model, or a
    parameter dataclass."""
    if issubclass(section_type, BaseModel):
        return tuple(section_type.model_fields)
    return tuple(f.name for f in dataclasses.fields(section_type))
