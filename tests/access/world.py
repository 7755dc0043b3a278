"""Two teams and their principals, for the access tests: team A's operator and supervisor, team
B's operator and supervisor, an admin; conversations, customers and the rows around them made
fresh for every call that changes something."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field

import httpx
from sqlalchemy import insert

from okno.context import AppContext
from okno.customers.merge import merge_customers
from okno.files.uploads import attachment_of
from okno.kit.time import utcnow
from okno.models import (
    CannedAnswer,
    Conversation,
    Customer,
    Identity,
    IdentityConflict,
    MatchSuggestion,
    Message,
    StoredFile,
    Team,
    TimelineEvent,
    team_members,
)
from tests.factories import PASSWORD, make_api_channel, make_operator

PRINCIPALS = ("operator_a", "supervisor_a", "operator_b", "supervisor_b", "admin")
_phones = itertools.count(1_000_000)


@dataclass(frozen=True)
class Bundle:
    """One customer of a team with one conversation and one inbound message in it."""

    customer_id: int
    conversation_id: int
    message_id: int


@dataclass
class World:
    ctx: AppContext
    client: httpx.AsyncClient
    team_a: int = 0
    team_b: int = 0
    channel: dict = field(default_factory=dict)
    operators: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def cookie(self, who: str) -> dict[str, str]:
        return {"cookie": f"okno_session={self.tokens[who]}", "x-okno-client": "web"}

    def team(self, name: str) -> int:
        return self.team_a if name == "A" else self.team_b

    async def bundle(self, team: str | None = "B", *, status: str = "open") -> Bundle:
        now = utcnow()
        async with self.ctx.db.transaction() as session:
            customer = Customer(name=f"Клиент {secrets.token_hex(2)}")
            session.add(customer)
            await session.flush()
            session.add(Identity(customer_id=customer.id, kind="phone", value=f"+7916{next(_phones):07d}", source_channel_id=self.channel["id"]))
            conversation = Conversation(
                customer_id=customer.id, channel_id=self.channel["id"], team_id=self.team(team) if team else None, status=status,
                last_inbound_at=now, last_message_at=now, created_at=now, updated_at=now,
            )
            session.add(conversation)
            await session.flush()
            message = Message(
                conversation_id=conversation.id, customer_id=customer.id, channel_id=self.channel["id"], direction="in",
                text="Где мой заказ?", status="received", created_at=now, status_updated_at=now,
            )
            session.add(message)
            await session.flush()
            session.add(
                TimelineEvent(customer_id=customer.id, conversation_id=conversation.id, message_id=message.id, channel_id=self.channel["id"],
                              kind="message.received", data={"text": message.text}, occurred_at=now)
            )  # fmt: skip
            return Bundle(customer.id, conversation.id, message.id)

    async def file_message(self, team: str = "B") -> int:
        """An operator's message with a stored file in a fresh conversation of ``team``."""
        bundle = await self.bundle(team)
        blob = self.ctx.files.blobs.put(b"%PDF-1.4 access test")
        async with self.ctx.db.transaction() as session:
            stored = StoredFile(sha256=blob.sha256, size=blob.size, content_type="application/pdf", filename="invoice.pdf", storage_key=blob.key)
            session.add(stored)
            await session.flush()
            now = utcnow()
            message = Message(
                conversation_id=bundle.conversation_id, customer_id=bundle.customer_id, channel_id=self.channel["id"], direction="out",
                text="", status="sent", attachments=[attachment_of(stored)], created_at=now, status_updated_at=now,
            )
            session.add(message)
            await session.flush()
            return message.id

    async def merge(self, team: str = "B") -> int:
        survivor, merged = await self.bundle(team), await self.bundle(team)
        async with self.ctx.db.transaction() as session:
            row = await merge_customers(session, survivor_id=survivor.customer_id, merged_id=merged.customer_id, actor_id=self.operators["admin"], reason="test")
            return row.id

    async def conflict(self, team: str = "B") -> int:
        owner, claimant = await self.bundle(team), await self.bundle(team)
        async with self.ctx.db.transaction() as session:
            row = IdentityConflict(kind="email", value=f"{secrets.token_hex(4)}@mail.test", owner_id=owner.customer_id, claimant_id=claimant.customer_id)
            session.add(row)
            await session.flush()
            return row.id

    async def suggestion(self, team: str = "B") -> int:
        first, second = await self.bundle(team), await self.bundle(team)
        async with self.ctx.db.transaction() as session:
            row = MatchSuggestion(customer_id=first.customer_id, other_customer_id=second.customer_id, score=0.97, contributions=[])
            session.add(row)
            await session.flush()
            return row.id

    async def canned_answer(self, team: str | None = "B") -> int:
        async with self.ctx.db.transaction() as session:
            row = CannedAnswer(team_id=self.team(team) if team else None, shortcut=f"a{secrets.token_hex(3)}", language="ru", title="Ответ", body="Здравствуйте, {{ customer.name }}!")
            session.add(row)
            await session.flush()
            return row.id

    async def join(self, who: str, team: str) -> None:
        async with self.ctx.db.transaction() as session:
            await session.execute(insert(team_members).values(team_id=self.team(team), operator_id=self.operators[who]))


async def make_world(ctx: AppContext, client: httpx.AsyncClient) -> World:
    world = World(ctx=ctx, client=client)
    async with ctx.db.transaction() as session:
        teams = [Team(name="Команда A"), Team(name="Команда B")]
        session.add_all(teams)
        await session.flush()
        world.team_a, world.team_b = teams[0].id, teams[1].id
    for who in PRINCIPALS:
        role = who.split("_")[0]
        made = await make_operator(ctx, role=role, name=who)
        world.operators[who] = made["id"]
        response = await client.post("/api/v1/auth/login", json={"email": made["email"], "password": PASSWORD})
        assert response.status_code == 200, response.text
        world.tokens[who] = response.json()["access_token"]
        if who != "admin":
            await world.join(who, who[-1].upper())
    world.channel = await make_api_channel(client, world.bearer("admin"))
    return world
