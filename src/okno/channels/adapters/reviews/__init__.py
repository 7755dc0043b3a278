"""What the review channels (Google, 2GIS, Yandex) share: the reviewer's weak identity and the
review's rating as the core reads it (docs/reviews.md). Not a channel kind itself."""

from __future__ import annotations

from typing import Any

from okno.channels.base import IdentityKindSpec, InvalidIdentity, ProofRule, SenderIdentity

REVIEWER = "reviewer"  # "<platform>:<display name>": evidence only, never proof


def normalise_reviewer(raw: str, default_region: str) -> str:
    """``"google: Анна  К."`` → ``"google:анна к."``: platform and display name, case and spaces folded."""
    platform, _, name = raw.partition(":")
    name = " ".join(name.split()).casefold()
    platform = platform.strip().lower()
    if not platform or not name or len(name) > 200:
        raise InvalidIdentity("not a reviewer (platform:display name): %(raw)r", raw=raw[:60])
    return f"{platform}:{name}"


REVIEWER_KIND = IdentityKindSpec(REVIEWER, normalise_reviewer, "a reviewer's display name on a review platform (platform:name)")


def reviewer_rule(source: str, platform: str) -> ProofRule:
    return ProofRule(REVIEWER, source, False, f"a {platform} reviewer's display name: anyone can take it, evidence for the matcher only")


def review_sender(platform: str, review_id: str, display_name: str, *, source: str) -> list[SenderIdentity]:
    """The review itself is the address (``<platform>_review:<id>``: an edit comes from the same
    reviewer); the display name is evidence the matcher may suggest a merge on."""
    sender = [SenderIdentity(kind=f"{platform}_review", value=review_id)]
    if display_name.strip():
        sender.append(SenderIdentity(kind=REVIEWER, value=f"{platform}:{display_name}", source=source))
    return sender


def review_context(platform: str, rating: int | None, scale: int, **extra: Any) -> dict[str, Any]:
    """``context["review"]``: the rating on its own scale and on five stars (the core reads ``stars``)."""
    stars = round(rating * 5 / scale) if rating is not None and scale > 0 else None
    review = {"platform": platform, "rating": rating, "scale": scale, "stars": stars}
    review.update({k: v for k, v in extra.items() if v is not None})
    return {"review": review}
