"""An inbound message's private attributes start at their declared defaults, one dict per item,
however the item is built (okno sets them without pydantic's generic walk)."""

from __future__ import annotations

import pickle

from pydantic import BaseModel, PrivateAttr

from okno.channels.base import InboundMessage, _plain_private_defaults


def _declared() -> dict:
    return {name: attribute.get_default() for name, attribute in InboundMessage.__private_attributes__.items()}


def test_every_way_of_building_an_item_starts_from_the_declared_defaults() -> None:
    built = [
        InboundMessage(provider_id="a"),
        InboundMessage.model_validate({"provider_id": "b", "sender": [{"kind": "phone", "value": "1"}]}),
        InboundMessage.model_validate_json(b'{"provider_id": "c"}'),
        InboundMessage.model_construct(provider_id="d"),
    ]
    assert _declared() == {"_sender_keys": None}
    for item in built:
        assert item.__pydantic_private__ == _declared()
        assert item._sender_keys is None
    built[0]._sender_keys = ("RU", ((), (), []))
    assert [item.__pydantic_private__ == _declared() for item in built] == [False, True, True, True]  # one dict per item
    assert built[0].model_copy().__pydantic_private__ == built[0].__pydantic_private__
    assert pickle.loads(pickle.dumps(built[0])).__pydantic_private__ == built[0].__pydantic_private__


def test_a_mutable_default_keeps_pydantics_own_initialiser() -> None:
    class WithList(BaseModel):
        _seen: list = PrivateAttr(default_factory=list)

    pydantics = WithList.model_post_init
    _plain_private_defaults(WithList)
    assert WithList.model_post_init is pydantics
    one, two = WithList(), WithList()
    one._seen.append(1)
    assert two._seen == []
