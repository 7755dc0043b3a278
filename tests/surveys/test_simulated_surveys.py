"""The demo's CSAT survey, played by the simulator against a live server: the operator resolves
a VK conversation, the survey reaches the VK fake with its buttons, the simulated customer rates
it and the conversation stays resolved."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from okno import simulator
from okno.demo import DEMO_SURVEY
from okno.models import Conversation
from okno.models.surveys import SurveyRequest
from tests.test_simulator import _eventually, _play, _served


async def test_the_simulator_answers_the_demo_survey(settings, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(simulator, "SURVEY_SHARE", 1.0)
    monkeypatch.setattr(simulator, "SURVEY_REPLIES", (("5 спасибо", 1),))
    async with _served(settings) as live:
        assert [s["name"] for s in (await live.get("/api/v1/surveys"))["items"]] == [DEMO_SURVEY["name"]]
        await _play(live, "vk", operator=simulator.DEMO_OPERATOR)
        db = live.app.state.ctx.db

        async def answered() -> bool:
            async with db.reading() as session:
                request = await session.scalar(select(SurveyRequest))
            return request is not None and request.state == "answered"

        await _eventually(answered)
        async with db.reading() as session:
            request = await session.scalar(select(SurveyRequest))
            conversation = await session.get(Conversation, request.conversation_id)
        assert (request.score, request.kind, conversation.status) == (5, "csat", "resolved")
        fake = live.app.state.fake_providers["vk"]
        assert any(DEMO_SURVEY["question"]["ru"] in text for text in fake.sent_texts())
