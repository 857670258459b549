"""Normal clients mixed with poisoned requests: 0 failures among the normal ones (bench/chaos)."""

from __future__ import annotations

from pathlib import Path

from api.settings import Settings
from bench.chaos import run_chaos
from tests.conftest import SEEDS, serve


def test_poisoned_requests_fail_no_other_request(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", seed_paths=[SEEDS], background_load=False, api_keys=["k"]
    )
    with serve(settings) as url:
        report = run_chaos(url, "k", seconds=8, normal=4, poisoned=2)
    assert sum(report.normal.values()) > 0
    assert report.normal_failures == 0, report.normal
    assert report.server_errors == 0, report.poisoned
    assert sum(report.poisoned.values()) > 10
