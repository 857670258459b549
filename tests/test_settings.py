"""Settings: every one documented, lists read from comma-separated variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_in_the_readme_table() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [n for n in Settings.model_fields if f"| `QA_{n.upper()}` |" not in text]
    assert missing == []


def test_lists_come_from_comma_separated_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_SEED_PATHS", "a, b/c")
    monkeypatch.setenv("QA_CORS_ORIGINS", "http://x.test")
    settings = Settings()
    assert settings.seed_paths == [Path("a"), Path("b/c")]
    assert settings.cors_origins == ["http://x.test"]
    assert settings.index_path == Path("data/index")
