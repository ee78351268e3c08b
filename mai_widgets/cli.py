"""``mai-widgets``: register many images from a terminal or CI.

.. code-block:: bash

    mai-widgets plan images.yaml                 # what apply would do, entry by entry
    mai-widgets apply images.yaml --concurrency 8
    mai-widgets export --name pytorch > images.yaml

A progress line per change and a summary table; plain text when stdout is not a terminal,
``--json`` for machines (progress lines then go to stderr). Exit 0 on success, 1 when an entry
failed (or the run was stopped, or the service could not be reached), 2 on bad input (one line,
no traceback). Ctrl-C or SIGTERM during ``apply`` stops starting registrations, reports what was
sent and exits 1; a second ``apply`` finishes the rest.

No progress-bar library: one line per change is what a CI log keeps, and a redrawn bar would
garble it; the summary table is a few lines of text.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import IO, Any

from .batch import (
    DEFAULT_CONCURRENCY,
    DEFAULT_PLAN_CONCURRENCY,
    ApplyEvent,
    ApplyResult,
    Plan,
    PlanEvent,
    signed_in_session,
)
from .batch.plan import concurrency_argument
from .batch.text import apply_line, apply_report, plan_line, plan_report
from .errors import BatchFileError, ConfigError, MaiWidgetsError, ValidationError
from .i18n import LANGUAGES, Translation
from .wire.contract import ImageStatus

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "main", "main_entry"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
PROG = "mai-widgets"
HELP_COMMAND = f"{PROG} --help"
# States drawn in colour on a terminal (never when stdout is a file or a pipe).
_COLOURS = {
    "active": "32",
    "same": "32",
    "new": "36",
    "registered": "36",
    "differs": "33",
    "timeout": "33",
    "not-sent": "33",
    "failed": "31",
    "invalid": "31",
}


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors exit 2 with one line (no usage dump)."""

    def error(self, message: str) -> Any:
        raise _Usage(f"{self.prog}: {message}")


class _Usage(Exception):
    pass


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Register many ModelArts images at once from a file.")
    language_help = (
        "the language of the messages (default: c.MaiConfig.language, MAI_WIDGETS_LANGUAGE, "
        "then the locale's: LANGUAGE, LC_ALL, LC_MESSAGES, LANG)"
    )
    parser.add_argument("--language", choices=LANGUAGES, help=language_help)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    plan = commands.add_parser("plan", help="tell what apply would do with FILE, sending no registration")
    plan.add_argument("file", metavar="FILE", help="YAML (or .json) file of images")
    plan.add_argument(
        "--concurrency",
        type=concurrency_argument,
        default=DEFAULT_PLAN_CONCURRENCY,
        metavar="N",
        help="SWR checks at once (default %(default)s)",
    )
    plan.add_argument("--no-preflight", action="store_true", help="skip the SWR checks")
    apply = commands.add_parser("apply", help="register FILE's new images and follow them")
    apply.add_argument("file", metavar="FILE", help="YAML (or .json) file of images")
    apply.add_argument(
        "--concurrency",
        type=concurrency_argument,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help="registrations at once (default %(default)s)",
    )
    apply.add_argument("--no-wait", action="store_true", help="end once every registration is sent")
    apply.add_argument(
        "--replace-failed",
        action="store_true",
        help="delete and register again the entries whose image failed (nothing else is replaced)",
    )
    apply.add_argument("--timeout", type=_seconds, metavar="SECONDS", help="longest wait for the images")
    export = commands.add_parser("export", help="write your DEDICATED images as such a file")
    export.add_argument("--name", help="only images whose name contains this")
    export.add_argument(
        "--status",
        nargs="+",
        type=str.upper,
        choices=ImageStatus.choices(),
        metavar="STATUS",
        help=f"only images in these statuses ({', '.join(ImageStatus.choices())}; default: all but DELETED)",
    )
    export.add_argument("--workspace-id", help="the workspace to list (default: the configured one)")
    for command in (plan, apply, export):
        command.add_argument("--json", action="store_true", help="machine-readable output")
        # after the command too; SUPPRESS keeps a --language given before it
        command.add_argument("--language", choices=LANGUAGES, default=argparse.SUPPRESS, help=language_help)
    for command in (plan, apply, export):
        command.allow_abbrev = False
    parser.allow_abbrev = False
    return parser


class _Output:
    """Where lines go: stdout (stderr with --json), coloured only on a terminal."""

    def __init__(self, out: IO[str], err: IO[str], as_json: bool, words: Translation) -> None:
        self.out = out
        self.lines = err if as_json else out
        self.colour = not as_json and out.isatty()
        self.words = words

    def state(self, state: str, word: str) -> str:
        """A state's word, coloured by the state on a terminal."""
        code = _COLOURS.get(state)
        return f"\x1b[{code}m{word}\x1b[0m" if self.colour and code else word

    def line(self, text: str) -> None:
        print(text, file=self.lines, flush=True)

    def json(self, data: Any) -> None:
        print(json.dumps(data, indent=2, ensure_ascii=False), file=self.out, flush=True)

    def lines_of(self, lines: Sequence[str]) -> None:
        for text in lines:
            self.line(text)


def _plan(args: argparse.Namespace, output: _Output) -> int:
    from .batch import load, plan

    file = load(args.file)
    session = signed_in_session()

    def heard(event: PlanEvent) -> None:
        output.line(plan_line(event, output.state, output.words))

    result: Plan = plan(
        file, session=session, preflight=not args.no_preflight, concurrency=args.concurrency, on_event=heard
    )
    if args.json:
        output.json(result.to_json())
    output.lines_of(plan_report(result, output.state, output.words))
    return EXIT_OK if result.ok else EXIT_FAILED


def _apply(args: argparse.Namespace, output: _Output) -> int:
    from .batch import apply, load

    file = load(args.file)
    session = signed_in_session()
    stop = threading.Event()

    def heard(event: ApplyEvent) -> None:
        line = apply_line(event, output.state, output.words)
        if line is not None:
            output.line(line)

    def stopping(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        stop.set()
        name = signal.Signals(signum).name
        _tr = output.words
        output.line(
            _tr("{signal}: no new registrations are started; waiting for those in flight", signal=name)
        )

    previous = {s: signal.signal(s, stopping) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result: ApplyResult = apply(
            file,
            session=session,
            concurrency=args.concurrency,
            wait=not args.no_wait,
            replace_failed=args.replace_failed,
            timeout=args.timeout,
            stop=stop,
            on_event=heard,
        )
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if args.json:
        output.json(result.to_json())
    output.lines_of(apply_report(result, output.state, output.words))
    return EXIT_OK if result.ok else EXIT_FAILED


def _export(args: argparse.Namespace, output: _Output) -> int:
    from .batch import dumps, export

    session = signed_in_session()
    file = export(session=session, name=args.name, status=args.status, workspace_id=args.workspace_id)
    output.out.write(dumps(file, "json" if args.json else "yaml"))
    output.out.flush()
    return EXIT_OK


_COMMANDS: dict[str, Callable[[argparse.Namespace, _Output], int]] = {
    "plan": _plan,
    "apply": _apply,
    "export": _export,
}


def main(argv: Sequence[str] | None = None, *, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Run one command; returns the exit code (0 success, 1 an entry failed, 2 bad input)."""
    stdout = out if out is not None else sys.stdout
    stderr = err if err is not None else sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except _Usage as usage:
        _tr = _translation(_language_of(sys.argv[1:] if argv is None else argv))
        print(_tr("{problem} (see {command})", problem=usage, command=HELP_COMMAND), file=stderr)
        return EXIT_BAD_INPUT
    _tr = _translation(args.language)
    output = _Output(stdout, stderr, bool(getattr(args, "json", False)), _tr)
    where = f"{PROG} {args.command}"
    try:
        return _COMMANDS[args.command](args, output)
    except (BatchFileError, ConfigError, ValidationError) as error:
        print(f"{where}: {error.one_line(_tr)}", file=stderr)
        return EXIT_BAD_INPUT
    except MaiWidgetsError as error:
        print(f"{where}: {error.one_line(_tr)}", file=stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(_tr("{command}: interrupted", command=where), file=stderr)
        return 130


def _language_of(argv: Sequence[str]) -> str | None:
    """The ``--language`` of arguments argparse refused (to say why in that language)."""
    for n, word in enumerate(argv):
        value = argv[n + 1] if word == "--language" and n + 1 < len(argv) else ""
        if word.startswith("--language="):
            value = word.partition("=")[2]
        if value in LANGUAGES:
            return value
    return None


def _translation(language: str | None) -> Translation:
    """``--language``, else the configured language, else the locale's."""
    from .auth.config import translation_for

    return translation_for(language=language)


def main_entry() -> None:
    """The ``mai-widgets`` console script: :func:`main`'s code is the process's exit code."""
    sys.exit(main())


if __name__ == "__main__":
    main_entry()
