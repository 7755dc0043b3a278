"""A body model's fields as a plain dict: the same validation without building the models.

The API channel's usual body is valid: validating it as a ``TypedDict`` (one pydantic call, no
model instance built, defaults filled in) and building the item from that dict costs less than
building the body's models first. The ``TypedDict`` is derived from the model when the module is
imported — each field keeps the model's own ``FieldInfo`` (alias, default, limits) — so a limit is
written once, in the model; a model with settings or validators the ``TypedDict`` can't carry is
refused at import instead of being validated loosely.

A body the plain validation refuses is validated again by the model, whose error is the answer
(tests/channels/test_api_adapter_items.py compares both ways on generated bodies).
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired, get_args

from pydantic import BaseModel, TypeAdapter
from typing_extensions import TypedDict  # pydantic needs it before Python 3.12


def plain_fields(model: type[BaseModel]) -> TypeAdapter[dict[str, Any]]:
    """Validates what ``model`` validates into a dict of its fields by name (nested models as
    dicts too, absent fields as the model's defaults)."""
    return TypeAdapter(_typed_dict(model))


def _typed_dict(model: type[BaseModel]) -> type:
    config = dict(model.model_config)
    if config.pop("extra", None) != "ignore" or config:  # a TypedDict ignores unknown keys and has none of the rest
        raise TypeError(f"{model.__name__}: a plain dict validates like the model with extra='ignore' alone, not {dict(model.model_config)}")
    decorators = model.__pydantic_decorators__
    if any((decorators.validators, decorators.field_validators, decorators.model_validators, decorators.root_validators)):
        raise TypeError(f"{model.__name__}: a plain dict can't run the model's validators")
    fields: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if _is_model(annotation) and field.is_required():
            annotation = _typed_dict(annotation)
        elif _holds_model(annotation):  # a model default, a model in a union or list: it would stay a model
            raise TypeError(f"{model.__name__}.{name}: a plain dict takes nested models that are required and alone")
        typed = Annotated[annotation, field]  # the model's own FieldInfo: alias, default, constraints
        fields[name] = typed if field.is_required() else NotRequired[typed]
    return TypedDict(f"{model.__name__}Fields", fields)  # type: ignore[operator]


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _holds_model(annotation: Any) -> bool:
    return _is_model(annotation) or any(_holds_model(arg) for arg in get_args(annotation))
