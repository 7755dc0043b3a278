"""Who may see and act on what: one scope per principal, one SQL rule per kind of object.

``Scope`` is computed from an ``Operator`` (a person or an integration token's operator): its
role and, at query time, its team memberships. ``clauses`` turns it into SQLAlchemy conditions
that the query functions apply; ``guards`` fetches one object or answers 404. The rules are
written down in ``docs/access.md``.
"""

from okno.access.scope import Scope

__all__ = ["Scope"]
