"""The principal as the access rules see it: an operator id, a role and two settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from okno.kit.errors import Forbidden
from okno.models import Operator, Role

MANAGER_ROLES = frozenset({Role.admin.value, Role.supervisor.value})


class AccessSettings(Protocol):
    """The two settings the rules read (``okno.config.Settings`` has them)."""

    operators_see_unteamed: bool
    global_customer_directory: bool


@dataclass(frozen=True)
class Scope:
    """What one principal may see. Team memberships are not copied here: the SQL rules read
    ``team_members`` when they run, so a membership change takes effect on the next query.

    - admin: everything;
    - supervisor: conversations of the teams he is a member of (the teams he supervises),
      conversations assigned to him, and unteamed ones;
    - operator: the same, with unteamed conversations only while ``OKNO_OPERATORS_SEE_UNTEAMED``
      allows.
    """

    operator_id: int
    role: str
    operators_see_unteamed: bool = True
    global_customer_directory: bool = False  # every customer profile readable (conversations stay scoped)

    @classmethod
    def of(cls, operator: Operator, settings: AccessSettings) -> Scope:
        return cls(
            operator_id=operator.id, role=operator.role, operators_see_unteamed=settings.operators_see_unteamed,
            global_customer_directory=settings.global_customer_directory,
        )

    @property
    def sees_everything(self) -> bool:
        return self.role == Role.admin.value

    @property
    def sees_unteamed(self) -> bool:
        return self.sees_everything or self.role == Role.supervisor.value or self.operators_see_unteamed

    @property
    def manages(self) -> bool:
        """Supervisors and admins: merges, undoing them, identity conflicts, the supervisor page."""
        return self.role in MANAGER_ROLES

    def require_manager(self, what: str) -> None:
        if not self.manages:
            raise Forbidden("%(what)s needs role supervisor or admin", what=what)
