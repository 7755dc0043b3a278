"""Request and response fields the domain checks itself, published in OpenAPI with their shape.

Rule actions and conditions are checked by ``okno.automation.actions`` and ``okno.routing``,
which word each refusal (``actions[0].team_id: team 4 does not exist``) and know the database.
The API takes such a field as it was sent and hands it on; the schema still tells clients the
exact shape: ``Annotated[Any, PublishedAs(list[AutomationAction])]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, TypeAdapter
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema


@dataclass(frozen=True)
class PublishedAs:
    shape: Any

    def __get_pydantic_core_schema__(self, _source: Any, _handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.any_schema()  # taken as sent: the domain checks it and says what is wrong

    def __get_pydantic_json_schema__(self, _schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return handler(TypeAdapter(self.shape).core_schema)
