"""The event catalogue: every topic okno records, collected from the domains that emit them.

Each domain defines its event types in its own ``events.py`` (see :mod:`okno.bus.catalog` for
how to add one); this module only imports them, so ``catalogue()`` knows every topic. A domain
with a new ``events.py`` adds one line to ``EVENT_MODULES``.
"""

from __future__ import annotations

import importlib

from okno.bus.catalog import EventType, catalogue

EVENT_MODULES = (
    "okno.automation.events",
    "okno.channels.events",
    "okno.conversations.events",
    "okno.customers.events",
    "okno.routing.events",
    "okno.sla.events",
    "okno.surveys.events",
    "okno.reviews.events",
    "okno.telephony.events",
)

for _module in EVENT_MODULES:
    importlib.import_module(_module)

__all__ = ["EVENT_MODULES", "EventType", "catalogue"]
