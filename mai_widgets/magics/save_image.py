"""``%save_image``: save the notebook instance this kernel runs in as an image, from one line.

A thin shell over the :class:`~mai_widgets.kernel.save.SaveController` the "Save notebook" tab
uses: it lists the instances, tells which is this one, fills in the defaults (the instance's image
name, a tag that does not collide), validates, saves and follows the instance and the image. In a
notebook the tab's view shows the live states; in a terminal they are printed lines.

It follows ``%register_image``'s conventions: a bad argument is a one-line ``UsageError``; a
failure fails the cell with one block (code, message, request id, hint), never a traceback; the
image record is returned; ``--dry-run`` shows the request and equivalent code and sends nothing.
"""

from __future__ import annotations

import argparse
import shlex
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

from ..errors import MaiWidgetsError
from ..i18n import Translation, translation
from ..kernel.save import not_kept_text
from ..wire.contract import ImageRecord, ImageStatus
from ..wire.notebooks import NOT_KEPT_PATHS
from .register import (
    DryRun,
    RegisterImageError,
    argument,
    display,
    environment_client,
    follow_code,
    magic_arguments,
    not_waiting_text,
    positive_seconds,
    pump,
    words,
)

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from ..kernel.save import SaveController
    from ..widgets.save_tab import SaveNotebookView

__all__ = ["SAVE_FLAGS", "SaveImageError", "SaveImageMagics", "SaveProgressLines", "load_save_image"]

MAGIC = "%save_image"
# Field -> the argument that sets it, so a message names what the user typed.
SAVE_FLAGS: dict[str, str] = {
    "notebook_id": "--notebook",
    "namespace": "--namespace",
    "name": "NAME",
    "tag": "TAG",
    "description": "--description",
}
# How long listing the instances and organizations (and the default tag) may take.
LOAD_SECONDS = 60.0


class SaveImageError(RegisterImageError):
    """``%save_image`` failed after its arguments were accepted: one block, no traceback."""

    magic = MAGIC

    @classmethod
    def not_active(
        cls, record: ImageRecord, outcome: str, unfinished: str = "", *, tr: Translation | None = None
    ) -> SaveImageError:
        """The image did not end ACTIVE; ``unfinished`` says what goes on after a timeout
        (:meth:`SaveController.unfinished_text`)."""
        _tr = tr or translation()
        label = _tr("image {image_id} ({path})", image_id=record.id, path=record.swr_path or record.name)
        if outcome == "timeout":
            return cls(
                _tr(
                    "{magic} gave up waiting: {image} is still {status}",
                    magic=MAGIC,
                    image=label,
                    status=record.status,
                ),
                [
                    _tr.text(unfinished) if unfinished else _tr("ModelArts carries on with the save."),
                    _tr(
                        "Hint: follow it with {code}, or give a longer --timeout",
                        code=follow_code(record),
                    ),
                ],
                record=record,
            )
        details = [record.status_message] if record.status_message else []
        details.append(
            _tr(
                "Hint: the environment may be too large to save: remove large files outside "
                "{paths} (they are not kept anyway), then save again",
                paths=", ".join(NOT_KEPT_PATHS),
            )
        )
        headline = _tr(
            "{magic} failed: {image} ended {status}", magic=MAGIC, image=label, status=record.status
        )
        return cls(headline, details, record=record)


class SaveProgressLines:
    """A save's progress as printed lines: the tab's view of terminal IPython and scripts."""

    def __init__(self, controller: SaveController, tr: Translation | None = None) -> None:
        self.controller = controller
        self._tr = tr or translation()
        self._seen: dict[str, str] = {}
        controller.observe(self._changed, names=["notebook", "record"])

    def _changed(self, change: dict[str, Any]) -> None:
        item = change["new"]
        if item is None:
            return
        status = str(item.status)
        kind = change["name"]
        if self._seen.get(kind) == status:
            return
        _tr = self._tr
        if kind == "record" and kind not in self._seen:
            text = _tr(
                "saving as image {image_id} ({path}) with {endpoint}: {status}",
                image_id=item.id,
                path=item.swr_path or item.name,
                endpoint=self.controller.endpoint,
                status=status,
            )
        elif kind == "record":
            text = _tr("image {image_id}: {status}", image_id=item.id, status=status)
        else:
            text = _tr("instance {name}: {status}", name=item.name or item.id, status=status)
        print(text, flush=True)
        self._seen[kind] = status

    def close(self) -> None:
        self.controller.unobserve(self._changed, names=["notebook", "record"])


@magics_class
class SaveImageMagics(Magics):
    """The ``%save_image`` line magic."""

    # None: the tab's view when running in a Jupyter kernel, printed lines in a terminal IPython.
    use_widgets: bool | None = None

    def __init__(self, shell: InteractiveShell | None = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.last_controller: SaveController | None = None
        self.last_view: SaveNotebookView | None = None
        self._tr = translation()  # the language of the call under way (words())

    @magic_arguments()
    @argument(
        "image",
        nargs="?",
        metavar="NAME[:TAG]",
        help="the image's name, and optionally its tag (default: the instance's image name, and a "
        "date-and-time tag that the repository does not have yet)",
    )
    @argument(
        "--namespace",
        metavar="ORG",
        help="the SWR organization to save into (default: the first one these credentials can write)",
    )
    @argument("--description", metavar="TEXT", help="at most 512 characters; quote it if it has spaces")
    @argument(
        "--notebook",
        metavar="ID",
        help="the instance to save (default: this one: MAI_WIDGETS_NOTEBOOK_ID, or the RUNNING "
        "instance at this machine's address)",
    )
    @argument("--no-wait", action="store_true", help="return once the save has started, without waiting")
    @argument("--dry-run", action="store_true", help="show the request and equivalent code; send nothing")
    @argument(
        "--timeout", type=positive_seconds, metavar="SECONDS", help="stop waiting after this many seconds"
    )
    @argument("-h", "--help", action="store_true", help="show this help")
    @line_magic
    def save_image(self, line: str = "") -> ImageRecord | None:
        """Save a RUNNING notebook instance (by default, the one this kernel runs in) as an image.

        ``record = %save_image [NAME[:TAG]] [--namespace ORG] [--description TEXT] [--notebook ID]
        [--no-wait] [--dry-run] [--timeout S]`` saves, shows the instance (SNAPSHOTTING, then
        RUNNING) and the image (INIT, CREATING, ACTIVE) live, and returns the image record.
        What is not kept: the instance's mounted storage (/home/ma-user/work, /data, /cache); the
        instance is unavailable while it saves. Without ``--notebook`` the instance is
        ``MAI_WIDGETS_NOTEBOOK_ID`` (or ``c.MaiConfig.notebook_id``), else the one RUNNING instance
        at this machine's address; if none can be told the cell fails naming the RUNNING ones.

        A failure fails the cell: a bad argument raises a one-line ``UsageError``; an API error, a
        missing setting, an image that ends in anything but ACTIVE, or a wait that times out shows
        one block (code, message, request id, hint), never a traceback. ``--dry-run`` shows the
        request and equivalent Python and curl code, and sends nothing. Credentials come from
        the environment and never appear in output.
        """
        _tr = self._tr = words()
        try:
            return self._run(line)
        except UsageError:
            raise
        except SaveImageError:
            raise
        except MaiWidgetsError as error:
            raise SaveImageError.from_error(error, tr=_tr) from None
        except Exception as error:  # a bug: one block here, the traceback kept for %tb
            raise SaveImageError.unexpected(error, _tr) from None

    def _run(self, line: str) -> ImageRecord | None:
        args = self._parse(line)
        if args.help:
            print(SaveImageMagics.__dict__["save_image"].__doc__)
            return None
        fields = self._fields(args)
        client = environment_client(args.timeout)
        from ..kernel.save import SaveController

        controller = SaveController(client, tag_delay=0.0, timeout=args.timeout, **fields)
        self.last_controller = controller
        try:
            controller.load()
            controller.wait_loaded(LOAD_SECONDS)
            if controller.load_error is not None:
                raise controller.load_error
            self._check(controller)
            if args.dry_run:
                display(DryRun(controller.preview(), self._tr))
                return None
            return self._save(controller, wait=not args.no_wait)
        finally:
            if self.last_view is None or self.last_view.controller is not controller:
                controller.close()  # printed lines: nothing follows once the cell returns

    # -- arguments -------------------------------------------------------------------------

    @staticmethod
    def _parser() -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = SaveImageMagics.__dict__["save_image"].parser
        return parser

    def _parse(self, line: str) -> argparse.Namespace:
        try:
            return self._parser().parse_args(shlex.split(line, posix=True))
        except UsageError as error:
            raise UsageError(f"{MAGIC}: {error}") from None
        except ValueError as error:  # shlex: "No closing quotation" and the like
            problem = self._tr("cannot split the arguments ({error}): check the quotes", error=error)
            raise UsageError(f"{MAGIC}: {problem}") from None

    def _fields(self, args: argparse.Namespace) -> dict[str, Any]:
        _tr = self._tr
        if args.dry_run and (args.no_wait or args.timeout is not None):
            other = "--no-wait" if args.no_wait else "--timeout"
            problem = _tr("--dry-run sends nothing; it cannot be combined with {flags}", flags=other)
            raise UsageError(f"{MAGIC}: {problem}")
        if args.no_wait and args.timeout is not None:
            problem = _tr("--timeout bounds the wait; it cannot be combined with --no-wait")
            raise UsageError(f"{MAGIC}: {problem}")
        fields: dict[str, Any] = {}
        if args.image:
            name, colon, tag = str(args.image).rpartition(":")
            if not colon:
                name, tag = tag, ""
            if not name:
                problem = _tr("NAME is empty in {argument}: give NAME or NAME:TAG", argument=repr(args.image))
                raise UsageError(f"{MAGIC}: {problem}")
            fields["name"] = name
            if colon and not tag:
                problem = _tr(
                    "TAG is empty in {argument}: give NAME:TAG, or NAME alone", argument=repr(args.image)
                )
                raise UsageError(f"{MAGIC}: {problem}")
            if tag:
                fields["tag"] = tag
        for name in ("namespace", "description", "notebook"):
            value = getattr(args, name)
            if value:
                fields["notebook_id" if name == "notebook" else name] = value
        return fields

    def _check(self, controller: SaveController) -> None:
        """Every problem of the arguments as one line (``UsageError``); an instance that cannot be
        saved now fails the cell with one block saying what to do."""
        _tr = self._tr
        problems = dict(controller.problems)
        instance = problems.pop("notebook_id", None)
        if not controller.fields.get("notebook_id"):
            running = ", ".join(f"{n.id} ({n.name})" for n in controller.notebooks if n.is_running)
            listed = f"RUNNING: {running}" if running else _tr("no instance is RUNNING")
            problem = _tr(
                "which notebook instance this kernel runs in cannot be told; pass --notebook ID ({running})",
                running=listed,
            )
            raise UsageError(f"{MAGIC}: {problem}")
        if problems:
            parts = [
                f"{SAVE_FLAGS.get(f, f)} {_tr.text(m)}" for f, messages in problems.items() for m in messages
            ]
            raise UsageError(f"{MAGIC}: {_tr('; ').join(parts)}")
        if instance:
            headline = _tr(
                "{magic} failed: the instance {problem}", magic=MAGIC, problem=_tr.text(instance[0])
            )
            raise SaveImageError(headline, [])

    # -- saving ----------------------------------------------------------------------------

    def _widgets(self) -> bool:
        if self.use_widgets is not None:
            return self.use_widgets
        return getattr(self.shell, "kernel", None) is not None

    def _save(self, controller: SaveController, *, wait: bool) -> ImageRecord:
        _tr = self._tr
        lines: SaveProgressLines | None = None
        if self._widgets():
            from ..widgets.save_tab import SaveNotebookView

            self.last_view = SaveNotebookView(controller=controller, autoload=False)
            display(self.last_view)
        else:
            print(_tr.text(not_kept_text()))
            lines = SaveProgressLines(controller, _tr)
        try:
            interrupted = pump(controller, wait=wait)
        finally:
            if lines is not None:
                lines.close()
        record: ImageRecord | None = controller.record
        if controller.error is not None:
            raise SaveImageError.from_error(controller.error, record, _tr)
        if record is None:  # cannot happen: a controller without an error has a record
            raise MaiWidgetsError("the save ended without an image record")
        stopped = interrupted or controller.outcome == "stopped"
        if lines is not None and not wait:
            print(not_waiting_text(record, _tr))
        elif lines is not None and stopped:
            unfinished = controller.unfinished_text()
            ongoing = (
                _tr.text(unfinished)
                if unfinished
                else _tr(
                    "Stopped following; image {image_id} is {status}.",
                    image_id=record.id,
                    status=record.status,
                )
            )
            print(_tr("{what} (interrupted)", what=ongoing))
            if not record.is_terminal:
                print(
                    _tr(
                        "Follow it with {code} or ImageClient().wait",
                        code=follow_code(record),
                    )
                )
        if wait and not stopped and record.status != ImageStatus.ACTIVE:
            raise SaveImageError.not_active(record, controller.outcome, controller.unfinished_text(), tr=_tr)
        return record


def load_save_image(ipython: InteractiveShell) -> None:
    """Register ``%save_image`` (loading twice is harmless)."""
    if "SaveImageMagics" in ipython.magics_manager.registry:
        return
    ipython.register_magics(SaveImageMagics(ipython))


# argparse's prefix matching would make ``--name`` mean ``--namespace``; flags are spelled out.
SaveImageMagics._parser().allow_abbrev = False
