"""Services okno lends to adapters whose provider is okno itself (the website widget).

An adapter that needs them implements ``bind_runtime``; the directory calls it after building
the adapter. Adapters of outside providers never see the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from okno.channels.adapters.widget.streams import VisitorHub
    from okno.kit.db import Database


@dataclass(frozen=True)
class AdapterRuntime:
    db: Database
    visitor_hub: VisitorHub


class UsesRuntime(Protocol):
    def bind_runtime(self, runtime: AdapterRuntime) -> None: ...
