"""Which language a question or a document is in."""

from __future__ import annotations

import pytest

from index.language import ENGLISH, detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("What agencies does China support?", "en"),
        ("How many points did the Panthers defense surrender?", "en"),
        ("中国对恐怖主义的立场是什么？", "zh"),
        ("多边主义", "zh"),
        ("¿Qué dijo China sobre el terrorismo?", "es"),
        ("Was sagte China über den Terrorismus?", "de"),
        ("2024", "en"),
        ("", "en"),
    ],
)
def test_detects_the_language(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize("keyword", ["mpox", "UNRWA", "interpol", "state party"])
def test_a_keyword_py3langid_is_unsure_of_is_english(keyword: str) -> None:
    assert detect_language(keyword) == ENGLISH
