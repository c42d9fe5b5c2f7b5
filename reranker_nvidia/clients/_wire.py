"""Go's wire structs as plain classes that pydantic validates on first need.

Python only. ranker.py declares Go's structs (and ``_error_dialects`` the
dialects' shapes) as subclasses of :class:`WireStruct`: each is a plain
keyword-only dataclass (made one on first use), so declaring them costs no
pydantic import, and a call that succeeds never needs one (a 200 is read by
``_response_parse``'s fast path). The first body that needs validating (an
error answer, a 200 the fast check does not vouch for) or a JSON Schema builds
a pydantic ``TypeAdapter`` for the class, once. Its JSON Schemas are those the
``BaseModel`` with the same fields generates (``contracts/schemas/`` is
checked against them), and so are its errors' locations, inputs and, for
JSON, messages; only a value that is no object at all is a ``dataclass_type``
error where a model says ``model_type``, which no text the port shows is
built from.

Constraints are pydantic's configuration, given as class keywords, as a model
takes them: ``class Text(WireStruct, extra="forbid")``; ``strict=True`` holds
for the whole struct (JSON is read as with strict fields; a Python value must
already be the struct). An attribute docstring is the field's description in
the schema. As with Go's struct literals, building one by hand checks nothing:
validation is for what comes off the wire.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING, Any, ClassVar, Self, dataclass_transform

if TYPE_CHECKING:
    from pydantic import TypeAdapter


@dataclass_transform(kw_only_default=True)
class WireStruct:
    """A keyword-only dataclass with a ``BaseModel``'s reading methods, each built lazily.

    Making a dataclass costs some 0.4 ms (``dataclasses`` compiles its methods), so a
    struct becomes one when first needed: its first instance, or its first validator.
    """

    __slots__ = ()
    __pydantic_config__: ClassVar[dict[str, Any]] = {"use_attribute_docstrings": True}

    def __init_subclass__(cls, **config: Any) -> None:
        """``class Ranking(WireStruct, strict=True)``: the keywords are pydantic's configuration."""
        super().__init_subclass__()
        cls.__pydantic_config__ = {"use_attribute_docstrings": True, **config}
        _PENDING.append(cls)

    def __init__(self, **values: Any) -> None:
        """Only until the struct is a dataclass: then the dataclass's ``__init__`` takes over."""
        _made_dataclasses()
        type(self).__init__(self, **values)

    @classmethod
    def model_validate(cls, value: Any) -> Self:
        """``value`` (decoded JSON) read into this struct, or a ``ValidationError``."""
        result: Self = _adapter(cls).validate_python(value)
        return result

    @classmethod
    def model_validate_json(cls, body: str | bytes | bytearray) -> Self:
        """A JSON body read into this struct, or a ``ValidationError``."""
        result: Self = _adapter(cls).validate_json(body)
        return result

    @classmethod
    def model_construct(cls, **values: Any) -> Self:
        """An instance from values known to be valid (as ``BaseModel.model_construct``)."""
        return cls(**values)

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        """The struct's JSON Schema, as pydantic generates it for a model."""
        return _adapter(cls).json_schema()


_PENDING: list[type[WireStruct]] = []
"""The structs declared and not yet made dataclasses."""

_ADAPTERS: dict[type[WireStruct], TypeAdapter[Any]] = {}
_BUILDING = threading.Lock()


def _made_dataclasses() -> None:
    """Every struct declared so far made a dataclass (pydantic reads a struct with its parts)."""
    with _BUILDING:
        while _PENDING:
            dataclasses.dataclass(kw_only=True)(_PENDING.pop())


def _adapter(shape: type[WireStruct]) -> TypeAdapter[Any]:
    """The struct's validator, built once, the first time a chunk's thread needs it."""
    adapter = _ADAPTERS.get(shape)
    if adapter is None:
        _made_dataclasses()
        with _BUILDING:
            adapter = _ADAPTERS.get(shape)
            if adapter is None:
                from pydantic import TypeAdapter  # noqa: PLC0415 - only once a body needs it

                adapter = _ADAPTERS[shape] = TypeAdapter(shape)
    return adapter
