"""An operator's message as JSON or as multipart/form-data (text + files), read and checked
before the route's write transaction opens: a large upload never holds the database writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from okno.api.deps import Ctx
from okno.api.schemas import MessageIn, TemplateIn
from okno.conversations.outbound_content import TemplateChoice
from okno.files.uploads import (
    MAX_FILES_PER_MESSAGE,
    CheckedUpload,
    Upload,
    check_uploads,
)
from okno.kit.errors import Invalid, TooLarge

MULTIPART = "multipart/form-data"
FORM_OVERHEAD = 1024 * 1024  # the text field and part headers besides the files themselves


@dataclass(frozen=True)
class MessageRequest:
    body: MessageIn
    uploads: list[CheckedUpload] = field(default_factory=list)

    @property
    def template(self) -> TemplateChoice | None:
        return template_choice(self.body.template)


def template_choice(template: TemplateIn | None) -> TemplateChoice | None:
    return TemplateChoice(name=template.name, language=template.language, parameters=list(template.parameters)) if template else None


def _json_schema() -> dict[str, Any]:
    schema = MessageIn.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)  # TemplateIn is in the components already (the start route uses it)
    return schema


# the request body as OpenAPI shows it: JSON, or a form with text and files
OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _json_schema()},
            MULTIPART: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string"},
                        "channel_id": {"type": "integer"},
                        "internal": {"type": "boolean"},
                        "interactive": {"type": "string", "description": "JSON: buttons, quick replies or a list offered with the text"},
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}, "maxItems": MAX_FILES_PER_MESSAGE},
                    },
                }
            },
        },
    }
}


async def message_request(request: Request, ctx: Ctx) -> MessageRequest:
    limit = ctx.files.max_upload_bytes
    if not request.headers.get("content-type", "").startswith(MULTIPART):
        return MessageRequest(body=_validated(await request.body(), json=True))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit * MAX_FILES_PER_MESSAGE + FORM_OVERHEAD:
        raise TooLarge("the request is %(declared)s bytes; each file may have at most %(limit)s bytes (OKNO_MAX_UPLOAD_BYTES)", declared=declared, limit=limit)
    form = await request.form(max_files=MAX_FILES_PER_MESSAGE, max_fields=20)
    try:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        body = _validated({"text": fields.get("text", ""), "channel_id": fields.get("channel_id") or None,
                           "internal": fields.get("internal", "false"), "interactive": _json_field(fields, "interactive")}, json=False)
        uploads = [await _read(f, limit) for f in form.getlist("files") if isinstance(f, UploadFile)]
    finally:
        await form.close()
    if any(not isinstance(f, UploadFile) for f in form.getlist("files")):
        raise Invalid("files must be file parts (multipart/form-data with filename)")
    return MessageRequest(body=body, uploads=check_uploads(uploads, limit))


async def _read(part: UploadFile, limit: int) -> Upload:
    data = await part.read(limit + 1)
    if len(data) > limit:
        raise TooLarge("%(filename)s is larger than %(limit)s bytes (OKNO_MAX_UPLOAD_BYTES)", filename=part.filename, limit=limit)
        raise TooLarge("a file is larger than %(limit)s bytes (OKNO_MAX_UPLOAD_BYTES)", limit=limit)
    return Upload(data=data, filename=part.filename or "file", content_type=part.content_type)


def _json_field(fields: dict[str, str], name: str) -> Any:
    """A form field that carries JSON (the choices offered with files); absent or empty: None."""
    raw = fields.get(name, "").strip()
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Invalid("%(name)s must be JSON", name=name) from None


def _validated(data: Any, *, json: bool) -> MessageIn:
    try:
        return MessageIn.model_validate_json(data) if json else MessageIn.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        raise Invalid("invalid message at %(where)s: %(err)s", where=where, err=err.get('msg', 'invalid')) from None
