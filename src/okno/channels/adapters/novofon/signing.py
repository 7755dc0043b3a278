"""The two signatures of the Novofon (Zadarma-compatible) protocol (docs/channel-protocols.md §6).

Both are ``base64(hex(HMAC-SHA1(api_secret, S)))``: base64 of the *hex string* of the digest, not
of the raw digest (some ports of the provider's client get this wrong and never match).

- A webhook's ``Signature`` header signs a concatenation of a few of the event's fields, which
  fields depending on the event (:data:`SIGNED_FIELDS`).
- An API call's ``Authorization: <api_key>:<signature>`` signs the method path, the query string
  (parameters sorted by name, form-encoded) and the MD5 of that query string.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import urlencode

# the fields whose values, concatenated with nothing between them, make the signed string
SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
}


def sign(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def signed_string(event: str, fields: Mapping[str, str]) -> str:
    return "".join(fields.get(name, "") for name in SIGNED_FIELDS[event])


def webhook_signature(secret: str, fields: Mapping[str, str]) -> str:
    """The ``Signature`` header the provider sends with an event (``fields`` holds ``event``)."""
    return sign(secret, signed_string(fields["event"], fields))


def sorted_query(params: Mapping[str, str]) -> str:
    """The query string as the provider signs it: sorted by name, spaces as ``+``."""
    return urlencode(sorted(params.items()))


def api_authorization(api_key: str, secret: str, method_path: str, params: Mapping[str, str]) -> str:
    """The ``Authorization`` header of an API call to ``method_path`` (``/v1/…/``) with ``params``."""
    query = sorted_query(params)
    return f"{api_key}:{sign(secret, method_path + query + hashlib.md5(query.encode()).hexdigest())}"
