"""The CLI applies the service's settings and the API's limits: QA_TOP_K, 200 claims."""

from __future__ import annotations

import pytest

from api.cli import run
from qa.answer import NO_ANSWER, Answer


class RecordingService:
    def __init__(self) -> None:
        self.asked: list[int] = []
        self.checked: list[str] = []

    def ask(self, question: str, top_k: int) -> object:
        self.asked.append(top_k)
        return Answer(False, NO_ANSWER, [])

    def check(self, text: str) -> list[object]:
        self.checked.append(text)
        return []


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> RecordingService:
    recording = RecordingService()
    monkeypatch.setattr("api.cli._service", lambda settings, **_: recording)
    monkeypatch.delenv("QA_URL", raising=False)
    return recording


def test_ask_retrieves_qa_top_k_passages(
    service: RecordingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_TOP_K", "3")
    for args in (["ask", "What does China oppose?"], ["ask", "What?", "--top-k", "5"]):
        with pytest.raises(SystemExit) as exit_info:
            run(args)
        assert exit_info.value.code == 0
    assert service.asked == [3, 5]


def test_check_refuses_a_draft_over_200_sentences(
    service: RecordingService, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = " ".join(f"Claim number {n} is here." for n in range(201))
    with pytest.raises(SystemExit) as exit_info:
        run(["check", draft])
    assert exit_info.value.code == 2
    assert "at most 200 sentences" in capsys.readouterr().err
    assert service.checked == []
