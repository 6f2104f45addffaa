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
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, TypeVar, cast, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, GetCoreSchemaHandler, StringConstraints, TypeAdapter, create_model
from pydantic.fields import FieldInfo
from pydantic_core import CoreSchema, core_schema

from ccxt_mm.compiled import source_path
from ccxt_mm.quoting.constraints import Check, Pattern

T = TypeVar("T")


class Strict(BaseModel):
    """A config section: frozen, unknown keys refused, every number finite (`.inf` and `.nan`
    refused with the key: a limit is switched off by its own setting, never by infinity)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


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
