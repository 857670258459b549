"""The `qa` command: index documents, ask questions, serve the HTTP API."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from api.settings import Settings
from index.errors import QAError
from qa.service import QAService

app = typer.Typer(
    help="Answer questions about documents with verbatim cited excerpts.",
    no_args_is_help=True,
    add_completion=False,
)


def _service(settings: Settings) -> QAService:
    from api.app import load_service

    return load_service(settings)


def _fail(error: QAError) -> typer.Exit:
    typer.secho(f"error: {error.message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=2)


@app.command("index")
def index_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files, folders or tar archives of .txt, .md, .jsonl files; default: the seeds."
        ),
    ] = None,
    prune: Annotated[
        bool, typer.Option(help="Remove indexed documents that are no longer under PATHS.")
    ] = False,
    rebuild: Annotated[
        bool, typer.Option(help="Start a new index (needed after changing model or chunking).")
    ] = False,
) -> None:
    """Index documents incrementally: new and changed ones are embedded, unchanged skipped."""
    from api.app import load_embedder
    from index.build import build_index
    from index.store import IndexStore

    settings = Settings()
    targets = paths or settings.seed_paths
    try:
        embedder = load_embedder(settings)
        with tqdm(unit="chunk", desc="embedding", delay=1.0) as progress:
            report = build_index(
                targets,
                IndexStore(settings.index_path),
                embedder,
                settings.chunking(),
                prune=prune,
                rebuild=rebuild,
                progress=progress,
            )
    except QAError as exc:
        raise _fail(exc) from None
    except FileNotFoundError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=2) from None
    typer.echo(
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed; "
        f"{report.chunks_embedded} chunks embedded; index version {report.version} "
        f"in {settings.index_path}"
    )


@app.command("ask")
def ask_command(
    question: Annotated[str, typer.Argument(help="The question.")],
    top_k: Annotated[int, typer.Option(min=1, max=50, help="Passages retrieved.")] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON body.")] = False,
) -> None:
    """Answer a question with numbered verbatim citations."""
    settings = Settings()
    if not question.strip():
        typer.secho("error: question must not be empty", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=2)
    try:
        answer = _service(settings).ask(question.strip(), top_k)
    except QAError as exc:
        raise _fail(exc) from None
    if as_json:
        body = {
            "answer": answer.text,
            "answered": answer.answered,
            "citations": [asdict(c) for c in answer.citations],
        }
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    typer.echo(answer.text)
    for c in answer.citations:
        typer.echo(f"\n[{c.n}] {c.doc_id} [{c.start}:{c.end}] score {c.score:.3f}\n    {c.text}")


@app.command("serve")
def serve_command(
    host: Annotated[str | None, typer.Option(help="Address to bind (QA_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (QA_PORT).")] = None,
) -> None:
    """Serve the HTTP API and the chat page; indexes the seeds first when the index is empty."""
    import uvicorn

    from api.app import create_app

    settings = Settings()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
    )


if __name__ == "__main__":
    app()
