"""Which identity kinds exist, how each is normalised, and which keys prove who a sender is.

The core declares phone, e-mail and the CRM's opaque id; every other kind (a messenger's user
id, a widget visitor, a plugin's own handle) is declared by the channel adapter that brings it,
together with its normaliser and the default proof rules for the keys it learns. The channel
registry hands those declarations to :func:`declare`; this module never imports a channel.

A proof rule is ``(kind, source) → proves``: ``source`` says how the adapter learnt the key
(``SenderIdentity.source``). Admins override the defaults per row (``okno.customers.rules``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger()

# (raw value, default phone region) -> the normalised value; raises InvalidIdentity (or ValueError)
Normaliser = Callable[[str, str], str]


@dataclass(frozen=True)
class Rule:
    """Whether a key of ``kind`` learnt through ``source`` proves who the sender is."""

    kind: str
    source: str
    proves: bool
    note: str


@dataclass(frozen=True)
class IdentityKindSpec:
    kind: str  # lower-case, e.g. "telegram"
    normalise: Normaliser
    note: str = ""
    # the default proof rules for keys of this kind (rules about other kinds go to ``declare``)
    rules: tuple[Rule, ...] = field(default=())


class _Registry:
    def __init__(self) -> None:
        self.kinds: dict[str, IdentityKindSpec] = {}
        self.owners: dict[str, str] = {}
        self.rules: dict[tuple[str, str], Rule] = {}
        self.listeners: list[Callable[[], None]] = []

    def declare(self, owner: str, kinds: Iterable[IdentityKindSpec] = (), rules: Iterable[Rule] = ()) -> None:
        for spec in kinds:
            name = spec.kind
            if name != name.strip().lower() or not name or ":" in name:
                raise ValueError(f"{owner}: identity kind {name!r} must be lower-case, non-empty, without ':'")
            known = self.kinds.get(name)
            if known is not None and known != spec:
                log.error("identity_kind_redeclared", kind=name, owner=owner, kept_from=self.owners[name])
                continue
            self.kinds[name] = spec
            self.owners[name] = owner
            for rule in spec.rules:
                self.rules.setdefault((rule.kind, rule.source), rule)
        for rule in rules:
            self.rules.setdefault((rule.kind, rule.source), rule)
        for listener in self.listeners:
            listener()


_registry = _Registry()


def declare(owner: str, kinds: Iterable[IdentityKindSpec] = (), rules: Iterable[Rule] = ()) -> None:
    """Adds identity kinds and default proof rules (``owner`` names who declared them, for logs).
    A kind declared again with another normaliser is refused (the first declaration stays)."""
    _registry.declare(owner, kinds, rules)


def identity_kind(name: str) -> IdentityKindSpec | None:
    return _registry.kinds.get(name)


def known_kinds() -> list[str]:
    return sorted(_registry.kinds)


def default_rules() -> tuple[Rule, ...]:
    return tuple(_registry.rules.values())


def on_change(listener: Callable[[], None]) -> None:
    """Called whenever declarations change (caches of normalised keys listen)."""
    _registry.listeners.append(listener)
