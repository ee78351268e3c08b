"""``%register_images FILE``: register many images from a YAML or JSON file (``mai_widgets.batch``).

In a notebook it shows one live :class:`~mai_widgets.widgets.batch_view.BatchView`; in a terminal
IPython it prints what the console script prints (:mod:`mai_widgets.batch.text`). The run goes
on a worker thread; its events reach the view through the kernel's
:class:`~mai_widgets.kernel.threads.MainLoopWriter`, which this cell drains between two waits.

As ``%register_image`` does, a bad argument or a bad file is a one-line ``UsageError``, and a
run where an entry does not end as the file asks fails the cell with one block (no traceback):
the :class:`RegisterImagesError` carries the results as ``.result``.
"""

from __future__ import annotations

import argparse
import shlex
import threading
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

from ..batch import (
    DEFAULT_CONCURRENCY,
    ApplyEvent,
    ApplyResult,
    BatchFile,
    Plan,
    PlanEvent,
)
from ..batch.plan import concurrency_argument
from ..batch.text import state_word
from ..errors import BatchFileError, MaiWidgetsError, ValidationError
from ..i18n import Translation, translation
from ..wire.contract import ImageRecord
from .register import PUMP_SECONDS, RegisterImageError, argument, display, magic_arguments, words

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from ..kernel.threads import MainLoopWriter
    from ..widgets.batch_view import BatchView

__all__ = ["RegisterImagesError", "RegisterImagesMagics", "load_register_images"]

MAGIC = "%register_images"
# The failing entries named in the cell's error block (the view or the table shows them all).
SHOWN_FAILURES = 10


class RegisterImagesError(RegisterImageError):
    """Not every entry ended as the file asks (or the run could not start): the cell fails with
    one block. ``result`` is the :class:`~mai_widgets.batch.ApplyResult` or
    :class:`~mai_widgets.batch.Plan` (``None`` when nothing ran)."""

    magic = MAGIC

    def __init__(
        self,
        headline: str,
        details: list[str],
        *,
        result: ApplyResult | Plan | None = None,
        error: MaiWidgetsError | None = None,
        record: ImageRecord | None = None,
    ) -> None:
        super().__init__(headline, details, error=error, record=record)
        self.result = result

    @classmethod
    def of(cls, result: ApplyResult | Plan, tr: Translation | None = None) -> RegisterImagesError:
        _tr = tr or translation()
        if isinstance(result, ApplyResult):
            bad = [e for e in result.entries if e.state not in ("active", "same", "registered")]
            lines = []
            for e in bad:
                message = e.message(_tr)
                note = _tr(" ({note})", note=message) if message else ""
                lines.append(f"{e.index}. {e.swr_path}: {state_word(e.state, _tr)}{note}")
            if result.stopped:
                what = _tr("stopped")
                hint = _tr("Hint: run the same cell again to register the rest")
            else:
                what = _tr(
                    "{bad} of {total} images did not end ACTIVE", bad=len(bad), total=len(result.entries)
                )
                hint = _tr(
                    "Hint: fix what each line says and run the cell again: what is registered is left alone"
                )
        else:
            bad_plan = [e for e in result.entries if not e.ok]
            lines = [f"{e.index}. {e.swr_path}: {e.summary(_tr)}" for e in bad_plan]
            what = _tr(
                "{bad} of {total} images would not end as the file asks",
                bad=len(bad_plan),
                total=len(result.entries),
            )
            hint = _tr("Hint: fix the file (or SWR) and plan again")
        more = len(lines) - SHOWN_FAILURES
        shown = lines[:SHOWN_FAILURES] + ([_tr("... and {n} more", n=more)] if more > 0 else [])
        return cls(_tr("{magic} failed: {what}", magic=MAGIC, what=what), [*shown, hint], result=result)


@magics_class
class RegisterImagesMagics(Magics):
    """The ``%register_images`` line magic."""

    # None: widgets when running in a Jupyter kernel, printed lines in a terminal IPython.
    use_widgets: bool | None = None

    def __init__(self, shell: InteractiveShell | None = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.last_view: BatchView | None = None  # what the latest call displayed
        self._tr = translation()  # the language of the call under way (words())

    @magic_arguments()
    @argument(
        "file", nargs="?", metavar="FILE", help="YAML (or .json) file of images, as `mai-widgets` reads"
    )
    @argument("--plan", action="store_true", help="tell what applying would do, entry by entry; send nothing")
    @argument(
        "--concurrency",
        type=concurrency_argument,
        metavar="N",
        help=f"registrations at once (default {DEFAULT_CONCURRENCY}; plan: SWR checks at once)",
    )
    @argument("--no-wait", action="store_true", help="end once every registration is sent")
    @argument(
        "--replace-failed",
        action="store_true",
        help="delete and register again the entries whose image failed (nothing else is replaced)",
    )
    @argument("-h", "--help", action="store_true", help="show this help")
    @line_magic
    def register_images(self, line: str = "") -> ApplyResult | Plan | None:
        """Register every image of a YAML or JSON file with ModelArts, a few at a time.

        ``%register_images images.yaml`` registers the file's new entries (``--concurrency N`` at
        once, default 4), follows them with one poll loop until each is ACTIVE and returns the
        :class:`~mai_widgets.batch.ApplyResult`; entries registered the same way already are left
        alone, those registered otherwise are reported. ``--plan`` only tells what applying
        would do (and checks the images in SWR), returning the :class:`~mai_widgets.batch.Plan`;
        ``--no-wait`` ends once every registration is sent; ``--replace-failed`` deletes and
        registers again the entries whose image failed. In a notebook one live view shows a
        progress bar, a row per entry and the summary; in a terminal a line per change and the
        summary table. Interrupting the kernel stops starting registrations and shows what was
        sent; running the cell again finishes the rest.

        The cell fails, so "Run all" stops there, when an entry does not end as the file asks
        (one block, no traceback; the error's ``.result`` holds the results), and with a
        one-line ``UsageError`` for a bad argument or a bad file. Load it with
        ``%load_ext mai_widgets``.
        """
        _tr = self._tr = words()
        try:
            return self._run(line)
        except (UsageError, RegisterImagesError):
            raise
        except (BatchFileError, ValidationError) as error:
            raise UsageError(f"{MAGIC}: {error.one_line(_tr)}") from None
        except MaiWidgetsError as error:
            raise RegisterImagesError.from_error(error, tr=_tr) from None
        except Exception as error:  # a bug: one block here, the traceback kept for %tb
            raise RegisterImagesError.unexpected(error, _tr) from None

    def _run(self, line: str) -> ApplyResult | Plan | None:
        parser = _parser()
        _tr = self._tr
        try:
            args = parser.parse_args(shlex.split(line, posix=True))
        except UsageError as error:
            raise UsageError(f"{MAGIC}: {error}") from None
        except ValueError as error:
            problem = _tr("cannot split the arguments ({error}): check the quotes", error=error)
            raise UsageError(f"{MAGIC}: {problem}") from None
        if args.help:
            print(parser.format_help())
            return None
        if not args.file:
            problem = _tr("give the FILE of images (YAML or JSON), e.g. {magic} images.yaml", magic=MAGIC)
            raise UsageError(f"{MAGIC}: {problem}")
        from ..batch import load, signed_in_session

        file = load(args.file)
        session = signed_in_session()
        result = self._execute(file, args, session)
        if not result.ok:
            raise RegisterImagesError.of(result, _tr)
        return result

    def _widgets(self) -> bool:
        if self.use_widgets is not None:
            return self.use_widgets
        return getattr(self.shell, "kernel", None) is not None

    def _execute(self, file: BatchFile, args: argparse.Namespace, session: Any) -> ApplyResult | Plan:
        """Run plan or apply on a worker thread; this (the kernel's main) thread shows its events."""
        from ..batch import apply, plan
        from ..batch.text import apply_line, apply_report, plan_line, plan_report
        from ..kernel.threads import MainLoopWriter, start_thread

        view: BatchView | None = None
        writer = MainLoopWriter()
        _tr = self._tr
        if self._widgets():
            from ..widgets.batch_view import BatchView

            view = self.last_view = BatchView(
                "plan" if args.plan else "apply", len(file.entries), source=file.source, language=_tr.language
            )
            display(view)

        def heard(event: ApplyEvent | PlanEvent) -> None:  # worker threads, one call at a time
            if view is not None:
                shown = view
                writer.post(lambda: shown.update(event))
                return
            text = plan_line(event, tr=_tr) if isinstance(event, PlanEvent) else apply_line(event, tr=_tr)
            if text is not None:
                print(text, flush=True)

        stop = threading.Event()
        outcome: list[ApplyResult | Plan | BaseException] = []
        done = threading.Event()

        def work() -> None:
            try:
                if args.plan:
                    extra = {"concurrency": args.concurrency} if args.concurrency else {}
                    outcome.append(plan(file, session=session, on_event=heard, **extra))
                else:
                    outcome.append(
                        apply(
                            file,
                            session=session,
                            concurrency=args.concurrency or DEFAULT_CONCURRENCY,
                            wait=not args.no_wait,
                            replace_failed=args.replace_failed,
                            stop=stop,
                            on_event=heard,
                        )
                    )
            except BaseException as error:  # handed to the cell, which raises it there
                outcome.append(error)
            finally:
                done.set()

        start_thread(work, "mai-widgets-register-images")
        self._pump(done, stop, writer, view, _tr)
        got = outcome[0]
        if isinstance(got, BaseException):
            raise got
        if view is not None:
            view.finish(got)
            view.flush()
        else:
            report = plan_report(got, tr=_tr) if isinstance(got, Plan) else apply_report(got, tr=_tr)
            print("\n".join(report), flush=True)
        return got

    @staticmethod
    def _pump(
        done: threading.Event,
        stop: threading.Event,
        writer: MainLoopWriter,
        view: BatchView | None,
        _tr: Translation,
    ) -> None:
        """Wait for the run, showing its events; the first interrupt stops new registrations,
        a second one stops waiting (what is in flight ends in the background)."""
        while True:
            try:
                finished = done.wait(PUMP_SECONDS)
                writer.drain_here()
                if view is not None:
                    view.flush()
                if finished:
                    return
            except KeyboardInterrupt:
                if stop.is_set():
                    raise
                stop.set()
                if view is not None:
                    view.stopping()
                else:
                    print(
                        _tr("interrupted: no new registrations are started; waiting for those in flight"),
                        flush=True,
                    )


def _parser() -> argparse.ArgumentParser:
    """The ``MagicArgumentParser`` that ``@magic_arguments`` attached to the magic."""
    parser: argparse.ArgumentParser = RegisterImagesMagics.__dict__["register_images"].parser
    parser.allow_abbrev = False  # --conc is not --concurrency: flags are spelled out
    return parser


def load_register_images(ipython: InteractiveShell) -> None:
    """Register ``%register_images`` (loading twice is harmless)."""
    if "RegisterImagesMagics" not in ipython.magics_manager.registry:
        ipython.register_magics(RegisterImagesMagics(ipython))
