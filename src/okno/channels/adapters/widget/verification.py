"""A website visitor proves a phone or e-mail he typed with a one-time code (docs/identity-proof.md).

Client → server: ``verify {kind: "phone"|"email", value, lang?: "ru"|"en"}`` asks for a code;
``verify_code {code}`` enters it. Server → client: ``verify {status, detail, …}`` with ``status``:

- ``sent`` (``expires_in`` seconds): the same answer whether the key is known and a code went
  out or not, so the chat can't be used to find out who is a customer or which messenger he uses;
- ``too_many_requests`` (``retry_after`` seconds): this visitor or this key had its codes for now;
- ``invalid``: the value is not a phone number / e-mail address;
- ``verified``: the key is proven; the visitor's profile joined the key's owner;
- ``wrong_code`` (``attempts_left``), ``expired``, ``too_many_attempts``, ``no_code``: nothing
  was attached.

The code goes out through a channel that proves the key (``okno.channels.code_delivery``): today
a messenger the key's owner already writes to us from; an SMS or e-mail channel once one exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from okno.channels.code_delivery import code_routes, deliver_code
from okno.channels.runtime import AdapterRuntime
from okno.customers.identities import IdentityKey, InvalidIdentity, normalize_identity
from okno.customers.verification import (
    CODE_TTL,
    Outcome,
    TooManyCodes,
    check_code,
    check_send_limits,
    code_settled,
    issue_code,
    record_delivery,
)

# what the customer reads in his messenger (the visitor's language: it is the same person, or nobody)
CODE_TEXT = {
    "ru": "Код подтверждения для чата на сайте «{title}»: {code}. Он действует {minutes} минут. Никому его не сообщайте. "
          "Если вы не запрашивали код, просто не отвечайте на это сообщение.",
    "en": "Your confirmation code for the website chat “{title}”: {code}. It is valid for {minutes} minutes. Don't share it with anyone. "
          "If you didn't ask for a code, ignore this message.",
}  # fmt: skip
DETAILS = {
    "sent": "if we know this {kind}, a code was sent to the messenger its owner writes to us from",
    Outcome.verified.value: "confirmed",
    Outcome.wrong.value: "wrong code",
    Outcome.expired.value: "the code has expired: ask for a new one",
    Outcome.locked.value: "too many wrong codes: ask for a new one",
    Outcome.none.value: "no code was asked for: ask for one first",
}


class VerifyFrame(BaseModel):
    kind: Literal["phone", "email"]
    value: str = Field(min_length=1, max_length=320, pattern=r"^[^\x00]*$")  # the e-mail normaliser keeps a NUL, which PostgreSQL refuses
    lang: Literal["ru", "en"] = "ru"


class CodeFrame(BaseModel):
    code: str = Field(pattern=r"^\s*\d{6}\s*$", description="the 6 digits the visitor received")


@dataclass
class CodeVerifier:
    runtime: AdapterRuntime
    channel_id: int
    visitor_id: str
    secret: bytes  # the widget's token secret keys the codes' hashes
    title: str

    @property
    def requester(self) -> IdentityKey:
        return IdentityKey("web", self.visitor_id)

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        body = VerifyFrame.model_validate(frame)
        try:
            key = normalize_identity(body.kind, body.value, default_region=self.runtime.settings.default_region)
        except InvalidIdentity as exc:
            return {"type": "verify", "status": "invalid", "detail": exc.detail}
        try:
            async with self.runtime.db.reading() as session:  # a refused flood never takes the writer
                await check_send_limits(session, channel_id=self.channel_id, requester=self.requester, key=key)
            async with self.runtime.db.transaction() as session:
                issued = await issue_code(session, channel_id=self.channel_id, requester=self.requester, key=key, secret=self.secret)
                routes = await code_routes(session, key, issued.verification.owner_id)
        except TooManyCodes as exc:
            return {"type": "verify", "status": "too_many_requests", "retry_after": int(exc.retry_after.total_seconds()) + 1, "detail": str(exc)}
        minutes = int(CODE_TTL.total_seconds() // 60)
        text = CODE_TEXT[body.lang].format(title=self.title, code=issued.code, minutes=minutes)
        if routes and self.runtime.http is not None:  # after the commit, with no transaction open
            route = await deliver_code(
                routes, text, lookup=self.runtime.channel, http=self.runtime.http,
                idempotency_key=f"verify:{issued.verification.id}", customer_id=issued.verification.owner_id or 0,
            )  # fmt: skip
            if route is not None:
                async with self.runtime.db.transaction() as session:
                    await record_delivery(session, issued.verification.id, route.channel_id)
        return {"type": "verify", "status": "sent", "kind": key.kind, "expires_in": int(CODE_TTL.total_seconds()), "detail": DETAILS["sent"].format(kind=key.kind)}

    async def check(self, frame: dict[str, Any]) -> dict[str, Any]:
        body = CodeFrame.model_validate(frame)
        async with self.runtime.db.reading() as session:  # no live code: answered without the writer
            settled = await code_settled(session, channel_id=self.channel_id, requester=self.requester)
        if settled is not None:
            return {"type": "verify", "status": settled.value, "detail": DETAILS[settled.value]}
        async with self.runtime.db.transaction() as session:  # a wrong code's attempt is committed too
            result = await check_code(session, channel_id=self.channel_id, requester=self.requester, code=body.code.strip(), secret=self.secret)
        reply: dict[str, Any] = {"type": "verify", "status": result.outcome.value, "detail": DETAILS[result.outcome.value]}
        if result.outcome is Outcome.wrong:
            reply["attempts_left"] = result.attempts_left
        return reply
