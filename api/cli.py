"""The `qa` command: index documents, ask questions, serve the HTTP API.

Modules that load the model or the index are imported inside the commands that need them: with
--url (or QA_URL) ask, check, docs and rm talk to a running server and start in milliseconds.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from index.errors import QAError

if TYPE_CHECKING:
    from api.remote import RemoteService
    from api.settings import Settings
    from qa.answer import Answer
    from qa.service import QAService

app = typer.Typer(
    help="Answer questions about documents with verbatim cited excerpts.",
    no_args_is_help=True,
    add_completion=False,
    # Plain help: rich help labels every flag `<bool>`, as if it took a value.
    rich_markup_mode=None,
)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="QA_URL",
        metavar="URL",
        help="A running service (e.g. http://127.0.0.1:8000) to ask instead of loading the "
        "model and index here.",
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="QA_API_KEY", metavar="KEY", help="Key for --url."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the API's JSON body.")]


def _settings(**values: Any) -> Settings:
    from api.settings import Settings

    return Settings(**values)


def _service(settings: Settings, **options: Any) -> QAService:
    from api.wiring import load_service

    return load_service(settings, **options)


def _remote(url: str | None, api_key: str | None) -> RemoteService | None:
    """The running service at url, announced on stderr; None to work locally."""
    if not url:
        return None
    from api.remote import RemoteService, announce

    announce(url)
    return RemoteService(url, api_key or os.environ.get("QA_API_KEY"))


def _bar(**options: Any) -> Any:
    """A tqdm progress bar (imported only by the commands that show one)."""
    from tqdm import tqdm

    return tqdm(**options)


def _fail(error: QAError) -> typer.Exit:
    # IndexDamaged says, here, what is damaged (its HTTP message is a fixed sentence).
    typer.secho(f"error: {getattr(error, 'detail', error.message)}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=2)


def run(args: Sequence[str] | None = None) -> None:
    """Run the commands; a service error is one line on stderr (exit 2), never a traceback."""
    try:
        app(args=list(args) if args is not None else None, prog_name="qa")
    except QAError as exc:
        raise SystemExit(_fail(exc).exit_code) from None


@app.command("verify")
def verify_command() -> None:
    """Check the index: each version's files against the counts and checksums it recorded.

    Names what is damaged and what can be rebuilt without embedding again; exits 1 when the
    version CURRENT names is damaged (the service then serves the newest whole one, if any).
    """
    from api.wiring import open_store
    from index.verify import verify_index

    store = open_store(_settings())
    report = verify_index(store)
    typer.echo(f"index: {store.root}")
    typer.echo(f"CURRENT: {report.current or '(missing)'}")
    for problem in report.problems:
        typer.echo(f"  {problem}")
    for version in report.versions:
        mark = " (CURRENT)" if version.current else ""
        typer.echo(f"{version.name}{mark}: {'ok' if version.ok else 'DAMAGED'}")
        for problem in version.problems:
            typer.echo(f"  {problem}")
    if not report.versions:
        typer.echo("no version is published")
    if not report.ok:
        good = report.last_good
        typer.echo(
            f"the service serves {good}, the newest whole version"
            if good
            else "no version is whole"
        )
        raise typer.Exit(code=1)


def _fail_remote(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=2)


@app.command("index")
def index_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files, folders or tar archives of .txt, .md, .html, .pdf, .docx, .jsonl "
            "files; default: the seeds."
        ),
    ] = None,
    prune: Annotated[
        bool, typer.Option(help="Remove indexed documents that are no longer under PATHS.")
    ] = False,
    rebuild: Annotated[
        bool, typer.Option(help="Start a new index (needed after changing model or chunking).")
    ] = False,
    sentence_vectors: Annotated[
        bool | None,
        typer.Option(
            help="Store sentence vectors (documents indexed before get them too): new questions "
            "are then answered without embedding sentences, for about 60% more indexing time. "
            "Default: QA_SENTENCE_VECTORS, else what the index was built with (a new index "
            "stores them)."
        ),
    ] = None,
    distributed: Annotated[
        bool,
        typer.Option(
            help="Read, chunk and embed on a Ray cluster (the `cluster` extra): the index is the "
            "one this command writes without it."
        ),
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            metavar="ADDR",
            help="With --distributed: the cluster to join (host:port of `ray start --head`). "
            "Default: QA_RAY_ADDRESS, else a local Ray on this machine's cores.",
        ),
    ] = None,
    actors: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="With --distributed: embedding actors, each loading the model once. "
            "Default: one per CPU of the cluster.",
        ),
    ] = None,
    shards: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Split the index into N shards by a hash of doc_id, each a complete index, "
            "searched together with the collection's BM25 statistics. Default: the index's "
            "own count (1 for a new index); another count needs --rebuild.",
        ),
    ] = None,
) -> None:
    """Index documents incrementally: new and changed ones are embedded, unchanged skipped."""
    settings = _settings()
    if sentence_vectors is not None:
        settings = settings.model_copy(update={"sentence_vectors": sentence_vectors})
    if ray_address is not None:
        settings = settings.model_copy(update={"ray_address": ray_address})
    targets = paths or settings.seed_paths
    try:
        from api.progress import IndexingBars
        from index.documents import iter_paths

        files = sum(1 for _ in iter_paths(targets))  # a walk of the folders: nothing is read
        # Texts are chunks and, with sentence vectors, sentences: everything the model embeds.
        if distributed:
            from api.wiring import index_on_cluster

            with IndexingBars(files) as progress:
                report = index_on_cluster(
                    settings,
                    targets,
                    prune=prune,
                    rebuild=rebuild,
                    progress=progress,
                    actors=actors,
                    shards=shards,
                )
        else:
            service = _service(settings, load_index=False, index_seeds=False)
            with IndexingBars(files) as progress:
                report = service.index_paths(
                    targets, prune=prune, rebuild=rebuild, progress=progress, shards=shards
                )
    except ModuleNotFoundError as exc:
        if exc.name != "ray":
            raise
        typer.secho(
            'error: --distributed needs Ray: pip install -e ".[cluster]"',
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(code=2) from None
    except QAError as exc:
        raise _fail(exc) from None
    except FileNotFoundError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=2) from None
    for error in report.errors:
        typer.secho(f"skipped: {error}", err=True, fg=typer.colors.YELLOW)
    if report.errors and prune:
        typer.secho("nothing pruned, since some files were skipped", err=True)
    embedded = f"{report.chunks_embedded} chunks"
    if report.sentences_embedded:
        embedded += f" and {report.sentences_embedded} sentences"
    typer.echo(
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed; "
        f"{embedded} embedded; index version {report.version} in {settings.index_path}"
    )
    if report.errors:
        raise typer.Exit(code=1)


@app.command("rm")
def rm_command(
    doc_ids: Annotated[list[str], typer.Argument(help="The doc_ids to remove.")],
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Remove documents and their chunks from the index (nothing is re-embedded)."""
    if (remote := _remote(url, api_key)) is not None:
        from api.remote import RemoteError

        for doc_id in doc_ids:
            try:
                result = remote.delete(doc_id)
            except RemoteError as exc:
                raise _fail_remote(exc.message) from None
            typer.echo(f"removed {result['doc_id']} ({result['chunks']} chunks)")
        return
    try:
        service = _service(_settings(), load_index=False, index_seeds=False)
        changes = service.apply(removals=doc_ids)
    except QAError as exc:
        raise _fail(exc) from None
    for change in changes:
        typer.echo(f"removed {change.doc_id} ({change.chunks} chunks)")


@app.command("docs")
def docs_command(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """List the indexed documents: doc_id, chunks, characters and title."""
    if (remote := _remote(url, api_key)) is not None:
        from api.remote import RemoteError

        try:
            documents = remote.documents()
        except RemoteError as exc:
            raise _fail_remote(exc.message) from None
    else:
        from api.wiring import open_store
        from index.shards import published_manifest
        from qa.service import document_summaries

        try:
            # Read from the manifest alone: listing needs neither the model nor the index loaded.
            summaries = document_summaries(published_manifest(open_store(_settings())))
        except QAError as exc:
            raise _fail(exc) from None
        documents = [asdict(d) for d in summaries]
    from api.remote import print_documents

    print_documents(documents, as_json)


@app.command("ask")
def ask_command(
    question: Annotated[str, typer.Argument(help="The question.")],
    top_k: Annotated[
        int | None,
        typer.Option(min=1, max=50, metavar="N", help="Passages retrieved (default QA_TOP_K)."),
    ] = None,
    as_json: JsonFlag = False,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Answer a question with numbered verbatim citations."""
    if not question.strip():
        typer.secho("error: question must not be empty", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=2)
    settings = _settings()
    top_k = top_k if top_k is not None else settings.top_k
    if (remote := _remote(url, api_key)) is not None:
        from api.remote import RemoteError

        try:
            body = remote.ask(question.strip(), top_k)
        except RemoteError as exc:
            raise _fail_remote(exc.message) from None
    else:
        try:
            answer = _service(settings).ask(question.strip(), top_k)
        except QAError as exc:
            raise _fail(exc) from None
        body = {
            "answer": answer.text,
            "answered": answer.answered,
            "citations": [asdict(c) for c in answer.citations],
        }
    from api.remote import print_answer

    print_answer(body, as_json)


@app.command("eval")
def eval_command(
    dataset: Annotated[Path, typer.Argument(help="A BEIR-layout folder (corpus.jsonl, ...).")],
    queries: Annotated[
        Path | None, typer.Option(help="Queries file instead of queries.jsonl.")
    ] = None,
    qrels: Annotated[Path | None, typer.Option(help="Qrels TSV instead of qrels/test.tsv.")] = None,
    split: Annotated[
        str | None, typer.Option(help="Only queries whose metadata.split is this.")
    ] = None,
    fusion: Annotated[
        str, typer.Option(help="Retrieval: convex (default), rrf, dense or keyword.")
    ] = "convex",
    limit: Annotated[int | None, typer.Option(min=1, help="Evaluate the first N queries.")] = None,
    index_dir: Annotated[
        Path | None, typer.Option(help="Keep the corpus index here and reuse it (default: temp).")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the report here.")
    ] = None,
) -> None:
    """Measure retrieval (nDCG@10, recall, MRR) and answers on a BEIR-layout dataset."""
    import tempfile

    from qa.evaluation import evaluate, language_table, load_queries, markdown_table
    from qa.retrieval import RetrievalConfig
    from qa.tables import markdown_table as table

    if fusion not in ("convex", "rrf", "dense", "keyword"):
        raise typer.BadParameter("fusion must be convex, rrf, dense or keyword")
    settings = _settings()
    selected = load_queries(dataset, queries, qrels, split)[:limit]
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as scratch:
        service = _service(
            settings,
            index_dir=index_dir or Path(scratch) / "index",
            retrieval_config=RetrievalConfig(fusion=fusion),  # type: ignore[arg-type]
            load_index=False,
            index_seeds=False,
        )
        with _bar(unit="text", desc="indexing", delay=1.0) as progress:
            service.index_paths([dataset / "corpus.jsonl"], progress=progress)
        with _bar(total=len(selected), unit="query", desc="evaluating", mininterval=2) as progress:
            report = evaluate(service, selected, dataset.name, progress=progress.update)
    typer.echo(markdown_table([report]))
    if report.by_language:
        typer.echo("\n" + language_table(report))
    if report.abstention_curve:
        headers = ["threshold", "abstain precision", "abstain recall"]
        headers.append("answerable top-1 and answered")
        rows = [
            [f"{row['threshold']:.2f}"]
            + [
                f"{row[k]:.3f}"
                for k in ("abstain_precision", "abstain_recall", "answerable_top1_answered")
            ]
            for row in report.abstention_curve
        ]
        typer.echo("\n" + table(headers, rows))
    if json_out is not None:
        json_out.write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")


@app.command("eval-staff")
def eval_staff_command(
    questions_file: Annotated[
        Path,
        typer.Argument(help="A staff question set (bench/data/staff_questions.jsonl)."),
    ],
    collection: Annotated[
        Path | None,
        typer.Option(help="Its collection file; default: staff_collection.json beside it."),
    ] = None,
    corpus: Annotated[
        Path | None,
        typer.Option(help="The corpus the collection names; default: ../shared/corpora/NAME."),
    ] = None,
    split: Annotated[str, typer.Option(help="tune, report or all (each and both).")] = "all",
    index_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the collection's index here and reuse it (default: temp)."),
    ] = None,
    json_out: Annotated[
        Path | None,
        typer.Option("--json", help="Also write the rates and each question's outcome here."),
    ] = None,
    show_failures: Annotated[
        bool,
        typer.Option("--failures", help="Also list the questions not answered right at top-1."),
    ] = False,
) -> None:
    """Measure wrong refusals, top-1/top-3 citations and wrong answers on a staff question set.

    The seed statement and the collection's UN speeches are indexed through the service (once,
    into --index-dir); follow-ups are asked after their earlier turns, as /v1/chat/completions
    asks them.
    """
    import tempfile

    from qa.conversation import answer_in_context
    from qa.staff_eval import (
        StaffSetError,
        check_expectations,
        corpus_records,
        failures,
        load_collection,
        load_questions,
        markdown,
        run,
        summarise,
    )

    if split not in ("tune", "report", "all"):
        raise typer.BadParameter("split must be tune, report or all")
    try:
        questions = load_questions(questions_file)
        collection = collection or questions_file.parent / "staff_collection.json"
        spec = load_collection(collection)
        corpus_path = corpus or Path("../shared/corpora") / spec.corpus
        records = corpus_records(corpus_path, spec.corpus_ids)
    except (StaffSetError, OSError, KeyError, ValueError) as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=2) from None
    selected = [q for q in questions if split == "all" or q.split == split]
    with tempfile.TemporaryDirectory(prefix="qa-eval-staff-") as scratch:
        subset = Path(scratch) / "speeches.jsonl"
        subset.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
        )
        settings = _settings(
            index_dir=index_dir or Path(scratch) / "index",
            data_dir=Path(scratch) / "data",
            index_seeds_if_empty=False,
        )
        try:
            service = _service(settings)
            with _bar(unit="text", desc="indexing", delay=1.0) as progress:
                # prune: a reused folder holds exactly this collection.
                service.index_paths(
                    [*(collection.parent / f for f in spec.seed_files), subset],
                    prune=True,
                    progress=progress,
                )
        except QAError as exc:
            raise _fail(exc) from None
        texts = {d.doc_id: service.document(d.doc_id).text for d in service.documents()}
        problems = check_expectations(questions, texts)
        if problems:
            typer.secho("error: " + "\n  ".join(problems), err=True, fg=typer.colors.RED)
            raise typer.Exit(code=2)
        history_turns = settings.history_turns

        def ask_turn(question: str, history: Sequence[str]) -> Answer:
            earlier = list(history)[-history_turns:] if history_turns else []
            return answer_in_context(service, question, earlier, settings.top_k).answer

        with _bar(total=len(selected), unit="question", desc="asking", mininterval=2) as bar:
            results = run(selected, ask_turn, bar.update)
        service.close()
    report = summarise(results, split, {Path(f).name for f in spec.seed_files})
    typer.echo(markdown(report))
    if show_failures:
        typer.echo("\n" + failures(report.results))
    if json_out is not None:
        json_out.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")


@app.command("check")
def check_command(
    text: Annotated[
        str | None,
        typer.Argument(help="A sentence or a paragraph of a draft; - reads standard input."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", exists=True, dir_okay=False, help="Read the draft from this file."),
    ] = None,
    as_json: JsonFlag = False,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Mark each sentence supported, contradicted or not found, with the evidence and why."""
    import sys

    if (text is None) == (file is None):
        _usage_error("give the draft as TEXT, - (standard input) or --file, one of them")
    if file is not None:
        draft = file.read_text(encoding="utf-8", errors="replace")
    elif text == "-":
        draft = sys.stdin.read()
    else:
        draft = text or ""
    if not draft.strip():
        _usage_error("text must not be empty")
    if (remote := _remote(url, api_key)) is not None:
        from api.remote import RemoteError

        try:
            body = remote.check(draft)
        except RemoteError as exc:
            raise _fail_remote(exc.message) from None
    else:
        from pydantic import ValidationError

        from api.schemas import CheckRequest

        try:
            # The API's limits: 1 to 20,000 characters, at most 200 sentences.
            CheckRequest(text=draft)
        except ValidationError as exc:
            reason = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            typer.secho(f"error: {reason}", err=True, fg=typer.colors.RED)
            raise typer.Exit(code=2) from None
        try:
            claims = _service(_settings()).check(draft)
        except QAError as exc:
            raise _fail(exc) from None
        body = {
            "claims": [
                {
                    "text": c.text,
                    "verdict": c.verdict,
                    "score": c.score,
                    "reason": c.reason,
                    "evidence": [asdict(e) for e in c.evidence],
                }
                for c in claims
            ]
        }
    from api.remote import print_claims

    print_claims(body, as_json)


def _usage_error(message: str) -> NoReturn:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code=2)


@app.command("eval-check")
def eval_check_command(
    dataset: Annotated[
        Path,
        typer.Argument(help="Folder with corpus.jsonl and claims_with_rationales.jsonl (SciFact)."),
    ],
    limit: Annotated[int | None, typer.Option(min=1, help="Check only the first N claims.")] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write the figures to this JSON file.")
    ] = None,
    tune: Annotated[
        bool,
        typer.Option(help="Tune thresholds on claims with ids 2 mod 4; report odd-id ones too."),
    ] = False,
    index_dir: Annotated[
        Path | None,
        typer.Option(
            help="Keep the corpus index here and reuse it, as `qa eval` does (default: temp)."
        ),
    ] = None,
) -> None:
    """Measure fact checking: evidence recall@3, verdict accuracy, confusion (throwaway index)."""
    import tempfile

    from qa.check import CheckConfig
    from qa.check_eval import (
        load_claims,
        markdown,
        reported_subsets,
        score,
        splits,
        tune_config,
    )

    settings = _settings()
    if (
        not (dataset / "corpus.jsonl").is_file()
        or not (dataset / "claims_with_rationales.jsonl").is_file()
    ):
        typer.secho(
            f"error: {dataset} needs corpus.jsonl and claims_with_rationales.jsonl",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(code=2)
    golds = load_claims(dataset)[:limit]
    with tempfile.TemporaryDirectory(prefix="qa-eval-check-") as folder:
        service = _service(
            settings, index_dir=index_dir or Path(folder), load_index=False, index_seeds=False
        )
        with _bar(unit="text", desc="indexing", delay=1.0) as progress:
            service.index_paths([dataset / "corpus.jsonl"], progress=progress)
        config = CheckConfig()
        examined = [
            service.examine_claim(gold.text, config)
            for gold in _bar(iterable=golds, unit="claim", desc="checking", delay=1.0)
        ]
    parts = splits(golds)
    if tune:
        tuning = parts["tune"]
        config = tune_config([golds[i] for i in tuning], [examined[i] for i in tuning], config)
    subsets = reported_subsets(parts, len(golds))
    reports = {
        name: score([golds[i] for i in idx], [examined[i] for i in idx], config)
        for name, idx in subsets.items()
        if idx
    }
    typer.echo(markdown(reports))
    if tune:
        typer.echo(f"\nTuned on ids 2 mod 4: {reports['all'].config}")
    if json_file is not None:
        json_file.write_text(
            json.dumps({n: asdict(r) for n, r in reports.items()}, indent=2), encoding="utf-8"
        )


@app.command("serve")
def serve_command(
    host: Annotated[str | None, typer.Option(help="Address to bind (QA_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (QA_PORT).")] = None,
    distributed: Annotated[
        bool,
        typer.Option(
            help="Hold each shard's vectors in a Ray actor (the `cluster` extra; the index made "
            "with --shards N); a question gets a 503 naming a shard whose actor is down. "
            "Default: QA_SERVE_DISTRIBUTED.",
        ),
    ] = False,
) -> None:
    """Serve the HTTP API and the chat page; indexes the seeds first when the index is empty."""
    import uvicorn

    from api.app import create_app
    from api.observability import RequestIdFilter

    settings = _settings()
    if distributed:
        settings = settings.model_copy(update={"serve_distributed": True})
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s [%(request_id)s]: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RequestIdFilter())
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        access_log=settings.access_log,
    )


if __name__ == "__main__":
    run()
