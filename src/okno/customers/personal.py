"""Personal data that is shown only in part: a document number (national id, SNILS, social
security number) kept as the ``id_number`` attribute.

Where an id number is kept, for whoever builds erasure or export of a customer's data (the
product has neither yet): ``customers.attributes["id_number"]`` and the CRM import's other
values under ``attributes["_alternatives"]["id_number"]``; the matcher's copy in
``match_profiles.fields["id_number"]`` and its blocking key ``match_blocks.key = "i:<id>"``
(both follow the attributes: :func:`okno.customers.matching.profiles.refresh_profiles`);
``customer_merges.moved["attributes"]`` of a merge, and the values of
``customer.attributes_changed`` timeline entries when someone sets it through the API.
"""

from __future__ import annotations

from typing import Any

from okno.customers.merge import ALTERNATIVES

PARTLY_SHOWN = ("id_number",)
SHOWN_CHARACTERS = 4  # enough for an operator to check with the customer, as card numbers are shown


def masked(value: object) -> str:
    """``"123-456-789 01"`` → ``"•••• 8901"``: the last :data:`SHOWN_CHARACTERS` letters or digits."""
    characters = [c for c in str(value) if c.isalnum()]
    return "•••• " + "".join(characters[-SHOWN_CHARACTERS:]) if len(characters) > SHOWN_CHARACTERS else "••••"


def shown_attributes(attributes: dict[str, Any] | None) -> dict[str, Any]:
    """``attributes`` as an operator's screen shows them: id numbers masked, also among the
    values kept beside them."""
    shown = dict(attributes or {})
    for key in PARTLY_SHOWN:
        if key in shown:
            shown[key] = masked(shown[key])
    alternatives = shown.get(ALTERNATIVES)
    if isinstance(alternatives, dict) and any(k in alternatives for k in PARTLY_SHOWN):
        shown[ALTERNATIVES] = {
            k: [{**e, "value": masked(e.get("value", ""))} if isinstance(e, dict) else masked(e) for e in v] if k in PARTLY_SHOWN else v
            for k, v in alternatives.items()
        }
    return shown
