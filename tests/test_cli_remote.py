"""`qa ask/check/docs/rm --url`: the command line against a running server."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest
from typer.testing import CliRunner

from api.cli import app
from api.entry import main, parse_remote
from tests.conftest import ROOT, SEED_DOC_ID, SEEDS, LiveServer

SEED_TEXT = (SEEDS / SEED_DOC_ID).read_text(encoding="utf-8")
runner = CliRunner()


def remote(server: LiveServer) -> list[str]:
    return ["--url", server.url, "--api-key", server.api_key]


def test_ask_over_http_says_so_and_prints_the_api_body(live_server: LiveServer) -> None:
    result = runner.invoke(app, ["ask", "--json", "What does China oppose?", *remote(live_server)])
    assert result.exit_code == 0, result.output
    assert result.stderr == f"asking the service at {live_server.url}\n"
    body = json.loads(result.stdout)
    assert body["answered"] is True
    top = body["citations"][0]
    assert "double standards and politicization" in top["text"]
    assert SEED_TEXT[top["start"] : top["end"]] == top["text"]


def test_url_and_key_from_the_environment(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_URL", live_server.url)
    monkeypatch.setenv("QA_API_KEY", live_server.api_key)
    result = runner.invoke(app, ["ask", "What does China oppose?"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[2].startswith(f"[1] {SEED_DOC_ID} [")
    docs = runner.invoke(app, ["docs", "--json"])
    assert [json.loads(line)["doc_id"] for line in docs.stdout.splitlines()] == [SEED_DOC_ID]


def test_check_over_http(live_server: LiveServer) -> None:
    result = runner.invoke(
        app, ["check", "We must support double standards.", *remote(live_server)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("CONTRADICTED")


def test_rm_over_http(live_server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {live_server.api_key}"}
    added = httpx.post(
        f"{live_server.url}/v1/documents",
        files={"files": ("cli-rm.txt", b"Remote removal works from the command line.")},
        headers=headers,
        timeout=60,
    )
    assert added.status_code == 200, added.text
    result = runner.invoke(app, ["rm", "cli-rm.txt", *remote(live_server)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "removed cli-rm.txt (1 chunks)\n"
    again = runner.invoke(app, ["rm", "cli-rm.txt", *remote(live_server)])
    assert again.exit_code == 2
    assert "error: no document with doc_id 'cli-rm.txt'" in again.stderr


def test_server_errors_and_unreachable_servers_are_clear(live_server: LiveServer) -> None:
    wrong_key = runner.invoke(app, ["docs", "--url", live_server.url, "--api-key", "nope"])
    assert (wrong_key.exit_code, wrong_key.stderr.splitlines()[-1]) == (
        2,
        "error: the API key is not valid",
    )
    gone = runner.invoke(app, ["ask", "Anything?", "--url", "http://127.0.0.1:9"])
    assert gone.exit_code == 2
    assert "error: no service answered at http://127.0.0.1:9" in gone.stderr


def test_remote_commands_load_neither_the_model_nor_the_index(live_server: LiveServer) -> None:
    script = (
        "import sys\nfrom api.entry import main\n"
        f"sys.argv = ['qa', 'docs', '--url', {live_server.url!r}, '--api-key', "
        f"{live_server.api_key!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('numpy', 'torch', 'typer', 'pydantic', 'api.settings', 'qa.service')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    listed, loaded = done.stdout.splitlines()
    assert listed.startswith(f"{SEED_DOC_ID}\t4 chunks\t")
    assert loaded == "[]"


@pytest.mark.parametrize("command", ["ask", "check", "docs", "index"])
def test_flags_are_shown_as_flags(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "<bool>" not in result.output
    if command != "index":
        assert "--url URL" in result.output


@pytest.mark.parametrize(
    "argv",
    [
        ["ask", "What?"],  # no --url: local
        ["ask", "What?", "--url", "http://x", "--top-k", "60"],  # typer reports the range
        ["ask", "--help", "--url", "http://x"],
        ["check", "-", "--url", "http://x"],  # a draft on stdin
        ["ask", "What?", "--url", "http://x", "--unknown"],
        ["index", "--url", "http://x"],
    ],
)
def test_the_quick_entry_leaves_other_command_lines_to_typer(argv: list[str]) -> None:
    assert parse_remote(argv) is None


def test_the_quick_entry_prints_what_the_typer_command_prints(
    live_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["ask", "What does China oppose?", "--top-k", "4", *remote(live_server)]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    quick = capsys.readouterr()
    typer_run = runner.invoke(app, argv)
    assert (quick.out, quick.err) == (typer_run.stdout, typer_run.stderr)
    with pytest.raises(SystemExit) as exited:
        main(["rm", "never-indexed.txt", *remote(live_server)])
    assert exited.value.code == 2
    assert "error: no document with doc_id 'never-indexed.txt'" in capsys.readouterr().err


def test_chunked_bodies_are_joined() -> None:
    from api.remote import _dechunk

    assert _dechunk(b'5\r\n{"a":\r\n3;x=y\r\n 1}\r\n0\r\n\r\n') == b'{"a": 1}'


def test_a_port_that_speaks_no_http_is_a_clear_error() -> None:
    import socket
    import threading

    from api.remote import RemoteError, RemoteService

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer_garbage() -> None:
        connection, _ = server.accept()
        connection.recv(65536)
        connection.sendall(b"SSH-2.0-OpenSSH\r\n\r\n")
        connection.close()

    threading.Thread(target=answer_garbage, daemon=True).start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    with pytest.raises(RemoteError, match=f"no service answered at {url}"):
        RemoteService(url, timeout=10).documents()
    server.close()
