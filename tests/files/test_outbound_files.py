"""Operators send files: multipart upload into okno, then each provider's real upload contract."""

from __future__ import annotations

from sqlalchemy import func, select

from okno.channels.adapters.max.fake import FakeMax
from okno.channels.adapters.telegram.fake import FakeTelegram
from okno.channels.adapters.vk.fake import FakeVk
from okno.channels.adapters.whatsapp.fake import FakeWhatsApp
from okno.models import Message, StoredFile
from tests.files.helpers import (
    channel_with_fake,
    conversation_of,
    send_files,
    tiny_pdf,
    tiny_png,
)


async def test_a_photo_goes_to_telegram_as_a_multipart_sendphoto(client, ctx, served) -> None:
    fake = await served(FakeTelegram())
    _, headers = await channel_with_fake(client, ctx, "telegram", fake)
    await fake.deliver_text("700000001", "пришлите фото чека")
    conversation = await conversation_of(client, headers, ctx)
    png = tiny_png()
    sent = await send_files(client, headers, conversation["id"], [("чек.png", png, "image/png")], text="Вот ваш чек")
    assert sent.status_code == 201, sent.text
    message = sent.json()
    assert message["attachments"][0] | {"stored_file_id": 0} == {
        "kind": "image", "stored_file_id": 0, "name": "чек.png", "mime_type": "image/png", "size": len(png), "sha256": message["attachments"][0]["sha256"]}
    await ctx.settle()
    assert len(fake.uploads) == 1
    upload = fake.uploads[0]
    assert (upload["method"], upload["chat_id"], upload["caption"], upload["filename"], upload["content_type"], upload["content"]) == (
        "sendPhoto", 700000001, "Вот ваш чек", "чек.png", "image/png", png)
    after = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)).json()["items"][-1]
    assert after["status"] == "sent" and after["provider_message_id"] == str(upload["message_id"])
    download = await client.get(f"/api/v1/messages/{message['id']}/attachments/0", headers=headers)
    assert download.status_code == 200 and download.content == png and download.headers["content-type"] == "image/png"
    assert "filename*=UTF-8''%D1%87%D0%B5%D0%BA.png" in download.headers["content-disposition"]
    assert (await client.get(f"/api/v1/messages/{message['id']}/attachments/0")).status_code == 401


async def test_a_document_goes_to_telegram_as_senddocument_and_long_text_first(client, ctx, served) -> None:
    fake = await served(FakeTelegram())
    _, headers = await channel_with_fake(client, ctx, "telegram", fake)
    await fake.deliver_text("700000002", "договор?")
    conversation = await conversation_of(client, headers, ctx)
    long_text = "Условия: " + "важно " * 300  # longer than a caption may be
    sent = await send_files(client, headers, conversation["id"], [("договор.pdf", tiny_pdf(), "application/pdf")], text=long_text)
    assert sent.status_code == 201, sent.text
    await ctx.settle()
    assert [c["method"] for c in fake.calls] == ["sendMessage", "sendDocument"]
    assert fake.uploads[0]["caption"] == "" and fake.uploads[0]["content"] == tiny_pdf() and fake.uploads[0]["content_type"] == "application/pdf"


async def test_a_document_goes_to_whatsapp_by_media_upload_then_send(client, ctx, served) -> None:
    fake = await served(FakeWhatsApp())
    _, headers = await channel_with_fake(client, ctx, "whatsapp", fake)
    await fake.deliver_text("79160000001", "пришлите договор")
    conversation = await conversation_of(client, headers, ctx)
    pdf = tiny_pdf()
    sent = await send_files(client, headers, conversation["id"], [("dogovor.pdf", pdf, "application/pdf")], text="Договор во вложении")
    assert sent.status_code == 201, sent.text
    await ctx.settle()
    assert len(fake.uploads) == 1 and fake.uploads[0]["type"] == "application/pdf" and fake.uploads[0]["content"] == pdf
    body = fake.sent[0]["body"]
    assert body["type"] == "document" and body["to"] == "79160000001"
    assert body["document"] == {"id": fake.uploads[0]["id"], "filename": "dogovor.pdf", "caption": "Договор во вложении"}
    after = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)).json()["items"][-1]
    assert after["status"] == "sent" and after["provider_message_id"] == fake.sent[0]["id"]


async def test_an_image_goes_to_whatsapp_as_image_by_media_id(client, ctx, served) -> None:
    fake = await served(FakeWhatsApp())
    _, headers = await channel_with_fake(client, ctx, "whatsapp", fake)
    await fake.deliver_text("79160000002", "фото?")
    conversation = await conversation_of(client, headers, ctx)
    assert (await send_files(client, headers, conversation["id"], [("a.png", tiny_png(), "image/png")])).status_code == 201
    await ctx.settle()
    assert fake.sent[0]["body"]["type"] == "image" and fake.sent[0]["body"]["image"] == {"id": fake.uploads[0]["id"]}


async def test_vk_photo_and_document_are_uploaded_saved_and_attached(client, ctx, served) -> None:
    fake = await served(FakeVk())
    _, headers = await channel_with_fake(client, ctx, "vk", fake)
    await fake.deliver_text("500001", "скиньте фото и инструкцию")
    conversation = await conversation_of(client, headers, ctx)
    files = [("photo.png", tiny_png(), "image/png"), ("manual.pdf", tiny_pdf(), "application/pdf")]
    assert (await send_files(client, headers, conversation["id"], files, text="Держите")).status_code == 201
    await ctx.settle()
    methods = [c["method"] for c in fake.calls]
    assert methods == ["photos.getMessagesUploadServer", "photos.saveMessagesPhoto", "docs.getMessagesUploadServer", "docs.save", "messages.send"]
    assert [(u["kind"], u["filename"], u["content"]) for u in fake.uploads] == [("photo", "photo.png", tiny_png()), ("doc", "manual.pdf", tiny_pdf())]
    send = fake.calls[-1]
    photo, doc = send["attachment"].split(",")
    assert photo.startswith(f"photo-{fake.group_id}_") and photo.count("_") == 2 and doc.startswith(f"doc-{fake.group_id}_")
    assert fake.sent[0]["message"] == "Держите" and [a["filename"] for a in fake.sent[0]["attachments"]] == ["photo.png", "manual.pdf"]


async def test_max_file_is_uploaded_then_attached_by_token(client, ctx, served) -> None:
    fake = await served(FakeMax())
    _, headers = await channel_with_fake(client, ctx, "max", fake)
    await fake.deliver_text("900000001", "счёт?")
    conversation = await conversation_of(client, headers, ctx)
    files = [("счёт.pdf", tiny_pdf(), "application/pdf"), ("qr.png", tiny_png(), "image/png")]
    assert (await send_files(client, headers, conversation["id"], files)).status_code == 201
    await ctx.settle()
    assert [(u["type"], u["filename"], u["content"]) for u in fake.uploads] == [("file", "счёт.pdf", tiny_pdf()), ("image", "qr.png", tiny_png())]
    body = fake.calls[-1]["body"]
    assert [a["type"] for a in body["attachments"]] == ["file", "image"]
    assert [a["payload"]["token"] for a in body["attachments"]] == [u["token"] for u in fake.uploads]
    assert fake.calls[-1]["authorization"] == fake.token


async def test_too_large_file_is_refused_and_nothing_is_stored(client, ctx, served) -> None:
    ctx.files = type(ctx.files)(blobs=ctx.files.blobs, links=ctx.files.links, max_upload_bytes=2048)
    fake = await served(FakeTelegram())
    _, headers = await channel_with_fake(client, ctx, "telegram", fake)
    await fake.deliver_text("700000003", "большой файл?")
    conversation = await conversation_of(client, headers, ctx)
    big = tiny_pdf() + b"0" * 4096
    refused = await send_files(client, headers, conversation["id"], [("big.pdf", big, "application/pdf")], text="вот")
    assert refused.status_code == 413 and "2048" in refused.json()["detail"] and "big.pdf" in refused.json()["detail"]
    async with ctx.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(StoredFile)) == 0
        assert await session.scalar(select(func.count()).select_from(Message).where(Message.direction == "out")) == 0
    assert not ctx.files.blobs.root.exists() or not any(p.is_file() for p in ctx.files.blobs.root.rglob("*"))


async def test_a_file_whose_bytes_contradict_its_name_is_refused(client, ctx, served) -> None:
    fake = await served(FakeTelegram())
    _, headers = await channel_with_fake(client, ctx, "telegram", fake)
    await fake.deliver_text("700000004", "?")
    conversation = await conversation_of(client, headers, ctx)
    fake_png = await send_files(client, headers, conversation["id"], [("photo.png", b"MZ" + b"\0" * 200, "image/png")])
    assert fake_png.status_code == 422 and "executable" in fake_png.json()["detail"]
    not_png = await send_files(client, headers, conversation["id"], [("photo.png", b"just some text", "image/png")])
    assert not_png.status_code == 422 and "image/png" in not_png.json()["detail"]
    text = await send_files(client, headers, conversation["id"], [("notes.txt", "привет".encode(), "application/octet-stream")])
    assert text.status_code == 201 and text.json()["attachments"][0]["mime_type"] == "text/plain"
