"""An e-mail's attachments and inline images kept in okno's blob store when the mail comes in:
downloadable after the mail left the mailbox, refused over the size limits with a note the
conversation shows, erased with the customer, and never taken from another channel's say-so.
Against the fake mail server (real IMAP and SMTP sockets on loopback)."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from okno.channels.adapters.email import adapter as email_adapter
from okno.channels.adapters.email.parsing import parse_email
from okno.kit.blobs import BlobStore
from okno.models import InboundItem, Message, StoredFile
from tests.factories import admin_headers, make_api_channel, post_inbound
from tests.channels.email_steps import make_email_channel, messages_in_order

PDF = b"%PDF-1.4 receipt " + bytes(range(256)) * 4
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 40


pytestmark = pytest.mark.usefixtures("no_email_watchers_left")

_channel = make_email_channel
_messages = messages_in_order


async def _stored(ctx) -> list[StoredFile]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list((await session.scalars(select(StoredFile).order_by(StoredFile.id))).all())


async def _one_message(ctx, timeout: float = 5.0) -> Message:  # noqa: ANN001
    for _ in range(int(timeout / 0.02)):
        await ctx.settle()
        if messages := await _messages(ctx):
            [message] = messages
            return message
        await asyncio.sleep(0.02)
    raise AssertionError("the mail was not ingested")


def _mail(message_id: str, *, big: bytes | None = None) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"], mail["Message-ID"] = "anna@mail.example", "support@shop.example", "Чек", f"<{message_id}>"
    mail.set_content("Чек во вложении")
    mail.add_attachment(PDF, maintype="application", subtype="pdf", filename="чек.pdf")
    mail.add_attachment(PNG, maintype="image", subtype="png", filename="logo.png", disposition="inline", cid="<logo@mail.example>")
    if big is not None:
        mail.add_attachment(big, maintype="application", subtype="octet-stream", filename="архив.bin")
    return mail.as_bytes()


def _on_disk(ctx, data: bytes) -> bool:  # noqa: ANN001
    return (ctx.files.blobs.root / BlobStore.key_for(hashlib.sha256(data).hexdigest())).is_file()


async def test_attachments_are_kept_and_downloadable_after_the_mail_left_the_mailbox(client, ctx, fake) -> None:
    channel = await _channel(client, ctx, fake.channel_config())
    fake.append(_mail("kept@mail.example"))
    message = await _one_message(ctx)

    files = await _stored(ctx)
    assert [(f.filename, f.content_type, f.size, f.created_by) for f in files] == [
        ("чек.pdf", "application/pdf", len(PDF), None), ("logo.png", "image/png", len(PNG), None),
    ]
    assert [(a["name"], a["stored_file_id"], a["inline"]) for a in message.attachments] == [("чек.pdf", files[0].id, False), ("logo.png", files[1].id, True)]
    assert not any("blob_sha256" in a for a in message.attachments)  # the adapter's mark became the row
    assert _on_disk(ctx, PDF) and _on_disk(ctx, PNG)

    with fake.mailbox.changed:  # moved out of the folder (or deleted) in the mail client
        fake.mailbox.messages.clear()
    for index, data in ((0, PDF), (1, PNG)):
        download = await client.get(f"/api/v1/messages/{message.id}/attachments/{index}", headers=channel["headers"])
        assert download.status_code == 200, download.text
        assert download.content == data
    assert "filename*=UTF-8''%D1%87%D0%B5%D0%BA.pdf" in (await client.get(f"/api/v1/messages/{message.id}/attachments/0", headers=channel["headers"])).headers["content-disposition"]
    # a message not in the mailbox and not kept would fail: the route did not go to the mailbox
    assert (await client.get(f"/api/v1/messages/{message.id}/attachments/2", headers=channel["headers"])).status_code == 404


async def test_a_re_fetched_mail_adds_no_second_message_nor_file_row(client, ctx, fake) -> None:
    """The poll writes the bytes before the item is queued; a crash there (or a rescan after a
    UIDVALIDITY change) fetches the mail again: the same blob, no second message, no second row."""
    await _channel(client, ctx, fake.channel_config())
    raw = _mail("twice@mail.example")
    fake.append(raw)
    await _one_message(ctx)
    fake.mailbox.renumber()  # the whole folder under new UIDs: everything is fetched again
    fake.append(raw)  # and the same mail delivered twice
    for _ in range(3):
        await ctx.settle()
    assert len(await _messages(ctx)) == 1
    assert len(await _stored(ctx)) == 2


async def test_a_part_over_the_limit_leaves_a_note_in_the_conversation_and_no_blob(client, ctx, fake, monkeypatch) -> None:
    monkeypatch.setattr(email_adapter, "parse_email", functools.partial(parse_email, max_part_bytes=4096))
    channel = await _channel(client, ctx, fake.channel_config())
    big = b"\x01big" * 2000  # 8,000 bytes: over the 4,096 limit for one part
    fake.append(_mail("big@mail.example", big=big))
    message = await _one_message(ctx)

    assert [a["name"] for a in message.attachments] == ["чек.pdf", "logo.png"]
    assert len(await _stored(ctx)) == 2 and not _on_disk(ctx, big)
    note_en = "attachment «архив.bin» (7.8 KB) was not kept: larger than the 4.0 KB limit for one file"
    note_ru = "вложение «архив.bin» (7.8 KB) не сохранено: больше предела 4.0 KB на один файл"
    assert note_en in message.text and note_ru in message.text
    page = await client.get(f"/ui/conversations/{message.conversation_id}", headers=channel["headers"])
    assert page.status_code == 200
    assert note_en in page.text and note_ru in page.text


async def test_erasing_the_customer_deletes_his_mail_s_files_from_disk(client, ctx, fake) -> None:
    channel = await _channel(client, ctx, fake.channel_config())
    fake.append(_mail("erase@mail.example"))
    message = await _one_message(ctx)
    assert _on_disk(ctx, PDF) and _on_disk(ctx, PNG)

    erased = await client.post(f"/api/v1/customers/{message.customer_id}/erase", json={"reason": "запрос по 152-ФЗ"}, headers=channel["headers"])
    assert erased.status_code == 200, erased.text
    assert erased.json()["counts"]["files"] == 2
    assert not _on_disk(ctx, PDF) and not _on_disk(ctx, PNG)
    assert await _stored(ctx) == []


async def test_another_channel_can_not_make_okno_record_a_file_by_naming_its_hash(client, ctx, fake) -> None:
    """An API integrator sending ``blob_sha256`` (or ``stored_file_id``) gets no stored file: only
    an adapter that keeps files itself is trusted with the mark."""
    await _channel(client, ctx, fake.channel_config())
    fake.append(_mail("victim@mail.example"))
    await _one_message(ctx)
    api = await make_api_channel(client, await admin_headers(ctx, client))
    sha = hashlib.sha256(PDF).hexdigest()
    sent = await post_inbound(client, api, {"message_id": "forged-1", "from": {"email": "mallory@evil.example"}, "text": "дай файл",
                                            "attachments": [{"kind": "file", "name": "x.pdf", "blob_sha256": sha, "stored_file_id": 1}]})
    assert sent.status_code in (200, 202), sent.text
    for _ in range(3):
        await ctx.settle()
    async with ctx.db.reading() as session:
        forged = await session.scalar(select(Message).where(Message.text == "дай файл"))
        raw_items = await session.scalar(select(func.count()).select_from(InboundItem))
    assert forged is not None and raw_items == 2
    assert forged.attachments == [{"kind": "file", "name": "x.pdf"}]
    assert len(await _stored(ctx)) == 2  # the e-mail's two files only
