"""The `qa` entry point: questions for a running server are sent before typer is imported.

Typer builds each parameter with pydantic at parse time, which alone takes about 0.3 s on this
machine; `qa ask --url` should take a few tens of milliseconds. So ask, check, docs and rm given
--url (or QA_URL) are parsed here with argparse and sent with api.remote; anything else, and any
command line this parser does not accept (help, ranges, unknown options), goes to the typer app
in api.cli, which defines the same commands and reports errors properly.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

REMOTE_COMMANDS = ("ask", "check", "docs", "rm")


class _Unsupported(Exception):
    """This command line is for the typer app."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _Unsupported(message)


def parse_remote(argv: Sequence[str]) -> argparse.Namespace | None:
    """The remote command argv asks for, or None when the typer app should handle it."""
    if not argv or argv[0] not in REMOTE_COMMANDS or "--help" in argv:
        return None
    command = argv[0]
    parser = _Parser(prog=f"qa {command}", add_help=False)
    parser.add_argument("--url", default=os.environ.get("QA_URL"))
    parser.add_argument("--api-key", default=os.environ.get("QA_API_KEY"))
    if command in ("ask", "check", "docs"):
        parser.add_argument("--json", action="store_true", dest="as_json")
    if command == "ask":
        parser.add_argument("question")
        top_k = os.environ.get("QA_TOP_K", "")
        parser.add_argument("--top-k", type=int, default=int(top_k) if top_k.isdigit() else 8)
    elif command == "check":
        parser.add_argument("text")
    elif command == "rm":
        parser.add_argument("doc_ids", nargs="+")
    try:
        args = parser.parse_args(argv[1:])
    except _Unsupported:
        return None
    if not args.url:
        return None
    if command == "ask" and (not 1 <= args.top_k <= 50 or not args.question.strip()):
        return None
    if command == "check" and (args.text == "-" or not args.text.strip()):
        return None
    args.command = command
    return args


def run_remote(args: argparse.Namespace) -> int:
    """Send the command to the server and print what it answers; the exit status."""
    from api.remote import (
        RemoteError,
        RemoteService,
        announce,
        print_answer,
        print_claims,
        print_documents,
    )

    announce(args.url)
    service = RemoteService(args.url, args.api_key)
    try:
        if args.command == "ask":
            print_answer(service.ask(args.question.strip(), args.top_k), args.as_json)
        elif args.command == "check":
            print_claims(service.check(args.text), args.as_json)
        elif args.command == "docs":
            print_documents(service.documents(), args.as_json)
        else:
            for doc_id in args.doc_ids:
                result = service.delete(doc_id)
                print(f"removed {result['doc_id']} ({result['chunks']} chunks)")
    except RemoteError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    """Run `qa` with argv (default: the process's arguments)."""
    args = parse_remote(sys.argv[1:] if argv is None else argv)
    if args is not None:
        sys.exit(run_remote(args))
    from api.cli import run

    run(argv)


if __name__ == "__main__":
    main()
