"""Provider rules for e-mail addresses: which spellings reach the same mailbox.

Explicit data, not guesses: a domain without a rule is only lower-cased. Every rule below is
documented provider behaviour (Gmail ignores dots and ``+tags`` and answers for
googlemail.com; Yandex serves one mailbox under all its domains, treats ``-`` and ``.`` in a
login alike and ignores ``+tags``; Outlook, iCloud, Fastmail, Proton ignore ``+tags``).
Replace the table with :func:`configure_email_rules` (``OKNO_EMAIL_RULES``, a JSON list).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field, TypeAdapter


class EmailProviderRule(BaseModel):
    domains: list[str] = Field(min_length=1)  # every domain the provider answers for
    canonical_domain: str  # the one they are folded to
    drop_dots: bool = False
    dash_is_dot: bool = False
    plus_tags: bool = True  # ``local+anything`` is ``local``


DEFAULT_EMAIL_RULES: tuple[EmailProviderRule, ...] = (
    EmailProviderRule(domains=["gmail.com", "googlemail.com"], canonical_domain="gmail.com", drop_dots=True),
    EmailProviderRule(
        domains=["yandex.ru", "ya.ru", "yandex.com", "yandex.by", "yandex.kz", "yandex.ua", "narod.ru"],
        canonical_domain="yandex.ru",
        dash_is_dot=True,
    ),
    EmailProviderRule(domains=["outlook.com", "hotmail.com", "live.com"], canonical_domain="", plus_tags=True),
    EmailProviderRule(domains=["icloud.com", "me.com", "mac.com"], canonical_domain="icloud.com"),
    EmailProviderRule(domains=["fastmail.com"], canonical_domain="fastmail.com"),
    EmailProviderRule(domains=["proton.me", "protonmail.com", "pm.me"], canonical_domain="proton.me"),
)

_rules_by_domain: dict[str, EmailProviderRule] = {}


def configure_email_rules(rules: Iterable[EmailProviderRule]) -> None:
    """Replaces the table (and forgets normalised keys cached under the old one)."""
    from okno.customers.identities import forget_normalised

    _rules_by_domain.clear()
    for rule in rules:
        for domain in rule.domains:
            _rules_by_domain[domain.lower()] = rule
    forget_normalised()


def configure_email_rules_json(text: str) -> None:
    """``OKNO_EMAIL_RULES``: a JSON list of rules replacing the built-in table."""
    configure_email_rules(TypeAdapter(list[EmailProviderRule]).validate_json(text))


def canonical_mailbox(local: str, domain: str) -> tuple[str, str]:
    """Lower-case ``local``/``domain`` → the provider's one spelling of that mailbox."""
    rule = _rules_by_domain.get(domain)
    if rule is None:
        return local, domain
    if rule.plus_tags and "+" in local[1:]:
        local = local[: local.index("+", 1)]
    if rule.dash_is_dot:
        local = local.replace("-", ".")
    if rule.drop_dots:
        local = local.replace(".", "")
    return local, rule.canonical_domain or domain


for _rule in DEFAULT_EMAIL_RULES:
    for _domain in _rule.domains:
        _rules_by_domain[_domain] = _rule
