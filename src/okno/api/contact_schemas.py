"""Bodies of the contacts API: a customer written down by an operator (okno.customers.contacts)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

Phone = Annotated[str, Field(min_length=1, max_length=40)]
Email = Annotated[str, Field(min_length=3, max_length=320)]


class ContactIn(BaseModel):
    name: str = Field(default="", max_length=300)
    phones: list[Phone] = Field(default_factory=list, max_length=20)
    emails: list[Email] = Field(default_factory=list, max_length=20)
    attributes: dict[str, Any] = Field(default_factory=dict, max_length=100)


class ContactPatch(BaseModel):
    """What to change: a new name, phones and e-mails to add, attributes to set (null removes)."""

    name: str | None = Field(default=None, max_length=300)
    phones: list[Phone] = Field(default_factory=list, max_length=20)
    emails: list[Email] = Field(default_factory=list, max_length=20)
    attributes: dict[str, Any] = Field(default_factory=dict, max_length=100)
