"""Identity kinds are declared by the core (phone, e-mail, CRM id) and by channel adapters, each
with its normaliser and default proof rules; the registry collects the adapters' declarations."""

from __future__ import annotations

import pytest

from okno.channels.registry import ADAPTERS
from okno.customers import identity_kinds
from okno.customers.identities import IdentityKey, IdentityKind, InvalidIdentity, normalize_identity
from okno.customers.identity_kinds import IdentityKindSpec, Rule, default_rules, known_kinds
from okno.customers.rules import RuleBook


def test_the_core_keeps_phone_email_and_crm_and_each_built_in_channel_declares_its_own_kind() -> None:
    assert {k.value for k in IdentityKind} == {"phone", "email", "crm"}
    declared = {spec.kind: kind for kind, cls in ADAPTERS.items() for spec in getattr(cls, "identity_kinds", ()) if spec.kind != "reviewer"}
    assert declared == {
        "telegram": "telegram", "whatsapp": "whatsapp", "vk": "vk", "max": "max", "web": "widget", "external": "api",
        "google_review": "google_reviews", "2gis_review": "twogis_reviews", "yandex_review": "yandex_reviews",
    }
    # the review sites share one weak kind: a display name on a platform (evidence only)
    reviewer = {kind for kind, cls in ADAPTERS.items() for spec in getattr(cls, "identity_kinds", ()) if spec.kind == "reviewer"}
    assert reviewer == {"google_reviews", "twogis_reviews", "yandex_reviews"}
    assert set(declared) | {"phone", "email", "crm"} <= set(known_kinds())


def test_default_proof_rules_come_from_the_core_and_the_adapters_unchanged() -> None:
    rules = {(r.kind, r.source): r.proves for r in default_rules()}
    assert rules == {
        ("phone", "caller_id"): True,
        ("email", "verified"): True,
        ("phone", "crm_import"): True,
        ("email", "crm_import"): True,
        ("phone", "telegram.own_contact"): True,
        ("phone", "max.own_contact"): False,
        ("phone", "whatsapp.wa_id"): True,
        ("phone", "api"): True,
        ("email", "api"): True,
        ("phone", "widget.typed"): False,
        ("email", "widget.typed"): False,
        ("reviewer", "google_reviews.display_name"): False,
        ("reviewer", "twogis_reviews.display_name"): False,
        ("reviewer", "yandex_reviews.display_name"): False,
    } | {k: v for k, v in rules.items() if k[1].startswith("guestbook.")}  # the example plugin, if a test registered it
    book = RuleBook([Rule("phone", "widget.typed", True, "an admin who trusts typed phones (not advised)")])
    assert book.proves("phone", "telegram.own_contact") and book.proves("phone", "widget.typed") and not book.proves("email", "widget.typed")


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Declarations made by a test are forgotten after it."""
    registry = identity_kinds._registry  # noqa: SLF001
    for name in ("kinds", "owners", "rules"):
        monkeypatch.setattr(registry, name, dict(getattr(registry, name)))
    yield
    monkeypatch.undo()
    identity_kinds.declare("test:restore")  # tells the caches to forget what the test normalised


def _shout(raw: str, default_region: str) -> str:
    if not raw.strip():
        raise ValueError("empty")
    return raw.strip().upper()


def test_a_declared_kind_normalises_with_its_own_normaliser_and_refuses_with_its_reason(scratch_registry) -> None:  # noqa: ANN001
    identity_kinds.declare("test:shout", kinds=[IdentityKindSpec("shout_test", _shout)], rules=[Rule("phone", "shout_test.verified", True, "")])
    assert normalize_identity("Shout_Test", " hello ") == IdentityKey("shout_test", "HELLO")
    with pytest.raises(InvalidIdentity, match="not a valid shout_test identity"):
        normalize_identity("shout_test", "   ")
    assert ("phone", "shout_test.verified") in {(r.kind, r.source) for r in default_rules()}


def test_a_kind_declared_again_differently_keeps_its_first_normaliser(scratch_registry) -> None:  # noqa: ANN001
    identity_kinds.declare("test:other", kinds=[IdentityKindSpec("telegram", _shout)])
    assert normalize_identity("telegram", "abc") == IdentityKey("telegram", "abc")
    with pytest.raises(ValueError, match="lower-case"):
        identity_kinds.declare("test:bad", kinds=[IdentityKindSpec("Bad:Kind", _shout)])


def test_an_unknown_kind_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(InvalidIdentity, match=r"unknown identity kind 'icq' \(one of: .*telegram"):
        normalize_identity("icq", "1")
