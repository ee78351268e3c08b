"""``%register_image``: register an SWR image with ModelArts from one notebook line.

The magic is a thin shell over the same pieces the panel uses: the contract validates,
a ``RegistrationController`` registers and follows (in a notebook and in a terminal alike),
``StatusView`` (or, without a widget frontend, ``ProgressLines``) shows its progress and
``codegen.preview`` renders a dry run.

A failure fails the cell, as IPython's own magics do, so "Run all", papermill and nbclient
stop there: a bad argument raises IPython's ``UsageError`` (one line), and an API error, a
missing setting or an image that ends in anything but ACTIVE raises :class:`RegisterImageError`,
which IPython renders as one block (code, message, request id, hint) instead of a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import math
import re
import shlex
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from IPython.core import magic_arguments as _magic_arguments
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.display import display as _display

from ..errors import ApiError, FieldProblem, MaiWidgetsError, ValidationError
from ..i18n import N_, Translation, translation
from ..wire.contract import (
    FORM_FIELDS,
    SWR_PATH_HELP,
    ImageRecord,
    ImageStatus,
    RegisterRequest,
    complete_swr_path,
    field_spec,
    registered_differences,
)

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from ..auth.config import MaiConfig
    from ..kernel.controller import RegistrationController
    from ..services.images import ImageClient
    from ..services.preflight import Check
    from ..widgets.panel import RegisterPanel
    from ..widgets.status import StatusView

__all__ = [
    "PUMP_SECONDS",
    "STOP_SECONDS",
    "Checklist",
    "DryRun",
    "ProgressLines",
    "RegisterImageError",
    "RegisterImageMagics",
    "already_registered_report",
    "argument",
    "environment_client",
    "follow_code",
    "load_register_image",
    "magic_arguments",
    "positive_seconds",
    "words",
]

# IPython's magic_arguments and display are untyped; these typed names keep mypy --strict useful.
_F = TypeVar("_F", bound=Callable[..., Any])
_untyped_magic_arguments: Callable[..., Any] = _magic_arguments.magic_arguments
_untyped_argument: Callable[..., Any] = _magic_arguments.argument
display: Callable[..., None] = _display


def magic_arguments() -> Callable[[_F], _F]:
    decorator: Callable[[_F], _F] = _untyped_magic_arguments()
    return decorator


def argument(*args: Any, **kwargs: Any) -> Callable[[_F], _F]:
    decorator: Callable[[_F], _F] = _untyped_argument(*args, **kwargs)
    return decorator


MAGIC = "%register_image"
# How often the waiting cell applies the controller's queued updates (the view's refresh rate).
PUMP_SECONDS = 0.2
# After Ctrl-C: how long to let the worker notice its stop event.
STOP_SECONDS = 10.0

# Everything below comes from the register field table (contract.REGISTER_FIELD_TABLE).
# Request field -> the argument that sets it, so messages name what the user typed.
FIELD_FLAGS: dict[str, str] = {
    spec.name: ("SWR_PATH" if spec.name == "swr_path" else spec.flag) for spec in FORM_FIELDS
}
# The short flags of Huawei's `ma-cli image register`, by long flag.
MA_CLI_SHORT_FLAGS: dict[str, str] = {spec.flag: spec.short_flag for spec in FORM_FIELDS if spec.short_flag}
ALLOWED_VALUES: dict[str, tuple[str, ...]] = {spec.flag: spec.choices for spec in FORM_FIELDS if spec.enum}
# What ModelArts uses when --resource-category is left out (the real service's default).
DEFAULT_RESOURCE_CATEGORIES = tuple(field_spec("resource_category").default or ())
_VALUE_HINTS: dict[str, str] = {
    **{spec.flag: spec.help for spec in FORM_FIELDS if not spec.enum},
    "--timeout": N_("a number of seconds"),
}


def words(config: MaiConfig | None = None) -> Translation:
    """The language a magic speaks: ``c.MaiConfig.language`` (or ``MAI_WIDGETS_LANGUAGE``),
    else the locale's. Codes, paths, statuses and generated code stay English."""
    from ..auth.config import translation_for

    return translation_for(config)


def _value_hint(flag: str, _tr: Translation) -> str:
    if flag == "--description":
        return _tr(
            "a text of {length} (quote it if it has spaces)", length=_tr.text(field_spec("description").help)
        )
    return _tr.text(_VALUE_HINTS.get(flag, N_("a value")))


def _flags(long_flag: str, *aliases: str) -> tuple[str, ...]:
    """A field's option strings: the long flag, its aliases, and ma-cli's short flag if any."""
    short = MA_CLI_SHORT_FLAGS.get(long_flag)
    return (long_flag, *aliases, *((short,) if short else ()))


def positive_seconds(text: str) -> float:
    """argparse type of ``--timeout``: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


def _choices(flag: str) -> str:
    return ", ".join(ALLOWED_VALUES[flag])


class _ArgumentProblem(Exception):
    """A bad argument, already phrased as the one line the user sees."""


class RegisterImageError(Exception):
    """The magic failed after its arguments were accepted: the cell fails with one clean block.

    IPython renders ``_render_traceback_()`` instead of a traceback, in a terminal and in a
    kernel alike. ``record`` is the image as last seen (``None`` when nothing was registered);
    ``error`` the typed error behind it, if there was one. ``magic`` names the magic that failed
    (a subclass serves another magic).
    """

    magic = MAGIC

    def __init__(
        self,
        headline: str,
        details: list[str],
        *,
        error: MaiWidgetsError | None = None,
        record: ImageRecord | None = None,
    ) -> None:
        super().__init__(headline)
        self.headline = headline
        self.details = details
        self.error = error
        self.record = record
        self._bug: BaseException | None = None

    @classmethod
    def from_error(
        cls, error: MaiWidgetsError, record: ImageRecord | None = None, tr: Translation | None = None
    ) -> RegisterImageError:
        """The block for a typed error: its code, HTTP status and error code, ModelArts' message
        and the request id as they are; the words around them and the hint in ``tr``'s language."""
        _tr = tr or translation()
        head = [error.code]
        if isinstance(error, ApiError):
            head.append(f"HTTP {error.status}")
            if error.error_code:
                head.append(error.error_code)
        message = error.error_msg if isinstance(error, ApiError) and error.error_msg else error.message
        details = [message]
        if isinstance(error, ApiError) and error.request_id:
            details.append(_tr("Request id: {request_id}", request_id=error.request_id))
        if error.hint:
            details.append(_tr("Hint: {hint}", hint=_tr.text(error.hint)))
        if record is not None:
            details.append(
                _tr("The image {image} was last {status}.", image=_label(record, _tr), status=record.status)
            )
        headline = _tr("{magic} failed: {what}", magic=cls.magic, what=" · ".join(head))
        return cls(headline, details, error=error, record=record)

    @classmethod
    def not_active(
        cls, record: ImageRecord, outcome: str, *, tr: Translation | None = None
    ) -> RegisterImageError:
        _tr = tr or translation()
        label = _label(record, _tr)
        if outcome == "timeout":
            headline = _tr(
                "{magic} gave up waiting: {image} is still {status}",
                magic=MAGIC,
                image=label,
                status=record.status,
            )
            details = [
                _tr("ModelArts carries on building it."),
                _tr(
                    "Hint: follow it with {code}, or give a longer --timeout",
                    code=follow_code(record),
                ),
            ]
        else:
            headline = _tr(
                "{magic} failed: {image} ended {status}", magic=MAGIC, image=label, status=record.status
            )
            details = [record.status_message] if record.status_message else []
            details.append(
                _tr(
                    "Hint: check that the image was pushed to SWR at exactly this path and that "
                    "ModelArts may read its organization"
                )
            )
        return cls(headline, details, record=record)

    @classmethod
    def unexpected(cls, bug: Exception, tr: Translation | None = None) -> RegisterImageError:
        _tr = tr or translation()
        failure = cls(
            _tr(
                "{magic} failed: unexpected {error} in mai-widgets", magic=cls.magic, error=type(bug).__name__
            ),
            [_tr("This is a bug in mai-widgets: %tb shows where; please report it.")],
        )
        failure._bug = bug
        return failure

    def _render_traceback_(self) -> list[str]:
        if self._bug is not None:
            # IPython stored this error as the last one; %tb should show the bug's traceback.
            bug = self._bug
            sys.last_type, sys.last_value, sys.last_traceback = type(bug), bug, bug.__traceback__
        return [self.headline, *(f"  {line}" for line in self.details)]


class ProgressLines:
    """A controller's progress as printed lines: the status view of terminal IPython and scripts."""

    def __init__(self, controller: RegistrationController, tr: Translation | None = None) -> None:
        self.controller = controller
        self._tr = tr or translation()
        self._status: str | None = None
        controller.observe(self._changed, names=["record"])

    def _changed(self, change: dict[str, Any]) -> None:
        record: ImageRecord | None = change["new"]
        if record is None:
            return
        status = str(record.status)
        if self._status is None:
            _tr = self._tr
            if record.already_registered:
                text = _tr(
                    "registered {image} with {endpoint} (already registered: the existing image): {status}",
                    image=_label(record, _tr),
                    endpoint=self.controller.endpoint,
                    status=status,
                )
            else:
                text = _tr(
                    "registered {image} with {endpoint}: {status}",
                    image=_label(record, _tr),
                    endpoint=self.controller.endpoint,
                    status=status,
                )
            print(text, flush=True)
        elif status != self._status:
            print(f"{record.id}: {status}", flush=True)
        self._status = status

    def close(self) -> None:
        self.controller.unobserve(self._changed, names=["record"])


@magics_class
class RegisterImageMagics(Magics):
    """The ``%register_image`` line magic."""

    # None: widgets when running in a Jupyter kernel, printed lines in a terminal IPython.
    use_widgets: bool | None = None

    def __init__(self, shell: InteractiveShell | None = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._shown = _ShownRecord(shell)
        # What the latest call displayed, for code (and tests) that want to look at it.
        self.last_view: StatusView | None = None
        self.last_panel: RegisterPanel | None = None
        self.last_controller: RegistrationController | None = None
        self._tr = translation()  # the language of the call under way (words())

    @magic_arguments()
    @argument(
        "swr_path",
        nargs="?",
        metavar="SWR_PATH",
        help=f"the SWR image to register: {SWR_PATH_HELP}; a path without a registry "
        "(org/image:tag) is completed with the region's SWR host. No arguments at all: open the panel.",
    )
    @argument(*_flags("--swr-path"), dest="swr_path_flag", metavar="SWR_PATH", help="same as SWR_PATH")
    @argument(
        *_flags("--arch"), dest="arch", metavar="ARCH", help=f"processor architecture: {_choices('--arch')}"
    )
    @argument(
        *_flags("--resource-category", "--resource-categories"),
        dest="resource_category",
        nargs="+",
        action="extend",
        metavar="CATEGORY",
        help=f"one or more of {_choices('--resource-category')} "
        f"(left out: ModelArts uses {' '.join(DEFAULT_RESOURCE_CATEGORIES)})",
    )
    @argument(
        *_flags("--service", "--services"),
        dest="services",
        nargs="+",
        action="extend",
        metavar="SERVICE",
        help=f"one or more of {_choices('--service')}",
    )
    @argument("--service-type", metavar="TYPE", help=f"one of {_choices('--service-type')}")
    @argument(
        *_flags("--visibility"),
        dest="visibility",
        metavar="VISIBILITY",
        help=f"one of {_choices('--visibility')}",
    )
    @argument("--origin", metavar="ORIGIN", help=f"one of {_choices('--origin')}")
    @argument("--description", metavar="TEXT", help="at most 512 characters; quote it if it has spaces")
    @argument(
        *_flags("--workspace-id"),
        dest="workspace_id",
        metavar="ID",
        help='workspace to register in (default "0")',
    )
    @argument("--panel", action="store_true", help="open the panel filled in from the arguments instead")
    @argument("--dry-run", action="store_true", help="show the request and equivalent code; send nothing")
    @argument("--no-wait", action="store_true", help="return right after registering, without waiting")
    @argument(
        "--timeout", type=positive_seconds, metavar="SECONDS", help="stop waiting after this many seconds"
    )
    @argument(
        "--preflight-only",
        action="store_true",
        help="only check the image in SWR (exists, arch, user, registered already); register nothing",
    )
    @argument("--no-preflight", action="store_true", help="register without checking the image in SWR first")
    @argument("-h", "--help", action="store_true", help="show this help")
    @line_magic
    def register_image(self, line: str = "") -> ImageRecord | list[Check] | None:
        """Register a custom SWR image with ModelArts and follow it until it is usable.

        ``%register_image`` alone opens the registration panel. With an SWR path it
        validates, registers, shows a live status view until the image is ACTIVE, and
        returns the image record: ``record = %register_image PATH ...``. The short flags of
        ``ma-cli image register`` work too (``-swr``, ``-a``, ``-rs``, ``-s``, ``-v``, ``-wi``),
        and a path without a registry (``org/image:tag``) gets the region's SWR host.
        ``--panel`` opens the panel filled in instead, ``--dry-run`` shows the request and
        equivalent Python and curl code without sending anything, ``--no-wait`` returns
        right after registering (the status view keeps following in the background),
        ``--timeout`` bounds the wait. Before registering, the image is checked in SWR (preflight):
        a failed check stops the cell, a warning is printed and registration goes on;
        ``--preflight-only`` prints and returns the checks and registers nothing (a failed check
        fails the cell), ``--no-preflight`` registers without them. Interrupting the kernel stops
        the wait, not the image.

        A failure fails the cell, so "Run all" stops there: a bad argument raises a one-line
        ``UsageError`` naming the argument and its allowed values; an API error, a missing
        setting, an image that ends in anything but ACTIVE, or a wait that times out shows
        one block (code, message, request id, hint), never a traceback. Credentials come
        from the environment and never appear in output.

        Load it with ``%load_ext mai_widgets``. To load the magic in every new kernel, opt in
        through an IPython kernel config file: add ``c.InteractiveShellApp.extensions =
        ['mai_widgets']`` to ``~/.ipython/profile_default/ipython_kernel_config.py``.
        Installing mai-widgets never does this for you.
        """
        self._tr = words()
        try:
            return self._run(line)
        except _ArgumentProblem as problem:
            raise UsageError(f"{MAGIC}: {problem}") from None
        except RegisterImageError:
            raise
        except MaiWidgetsError as error:
            raise RegisterImageError.from_error(error, tr=self._tr) from None
        except Exception as error:  # a bug: one block here, the traceback kept for %tb
            raise RegisterImageError.unexpected(error, self._tr) from None

    def _run(self, line: str) -> ImageRecord | list[Check] | None:
        args = self._parse(line)
        if args.help:
            print(self._parser().format_help())
            return None
        fields = self._fields(args)
        if not fields or args.panel:
            self._show_panel(fields)
            return None
        request = self._request(fields)
        if args.dry_run:
            self._show_dry_run(request)
            return None
        client = self._client(args.timeout)
        if args.preflight_only:
            return self._preflight(client, request, show_all=True)
        if not args.no_preflight:
            self._preflight(client, request, show_all=False)
        return self._register(client, request, wait=not args.no_wait)

    # -- arguments ------------------------------------------------------------------------

    @staticmethod
    def _parser() -> argparse.ArgumentParser:
        return _parser_of(RegisterImageMagics)

    def _parse(self, line: str) -> argparse.Namespace:
        try:
            # Split like a POSIX shell: IPython's parse_argstring splits non-POSIX, which keeps
            # the quotes in a value (--description 'my image' would send "'my image'").
            return self._parser().parse_args(shlex.split(line, posix=True))
        except UsageError as error:
            raise _ArgumentProblem(self._explain_usage(str(error))) from None
        except ValueError as error:  # shlex: "No closing quotation" and the like
            raise _ArgumentProblem(
                self._tr("cannot split the arguments ({error}): check the quotes", error=error)
            ) from None

    def _explain_usage(self, message: str) -> str:
        """Rephrase argparse's message so it names the argument and what it accepts."""
        _tr = self._tr
        m = re.match(r"argument (?P<opts>[^:]+): (?P<what>.*)$", message)
        if m:
            opts = m.group("opts").split("/")
            flag = next((o for o in opts if o.startswith("--")), opts[0])
            what = m.group("what")
            if what.startswith("expected"):
                allowed = ALLOWED_VALUES.get(flag)
                if allowed is None:
                    return _tr("{flag} needs a value: {what}", flag=flag, what=_value_hint(flag, _tr))
                if "at least" in what:
                    return _tr(
                        "{flag} needs a value: one or more of {choices}",
                        flag=flag,
                        choices=", ".join(allowed),
                    )
                return _tr("{flag} needs a value: one of {choices}", flag=flag, choices=", ".join(allowed))
            return f"{flag} {what}"
        m = re.match(r"unrecognized arguments: (?P<rest>.*)$", message)
        if m:
            first = m.group("rest").split()[0]
            if first.startswith("-"):
                flags = [s for a in self._parser()._actions for s in a.option_strings]
                known = [s for s in flags if s.startswith("--")]
                close = difflib.get_close_matches(first, flags, n=1)
                if close:
                    suggestion = _tr("did you mean {flag}?", flag=close[0])
                else:
                    suggestion = _tr("known flags: {flags}", flags=", ".join(known))
                return _tr(
                    "unknown argument {argument} ({suggestion})", argument=first, suggestion=suggestion
                )
            return _tr(
                "unexpected argument {argument}: give one SWR_PATH, and quote values with spaces "
                '(--description "my image")',
                argument=repr(first),
            )
        return message

    def _fields(self, args: argparse.Namespace) -> dict[str, Any]:
        _tr = self._tr
        if args.swr_path and args.swr_path_flag and args.swr_path != args.swr_path_flag:
            raise _ArgumentProblem(_tr("give the SWR path once: either SWR_PATH or --swr-path, not both"))
        fields: dict[str, Any] = {"swr_path": args.swr_path or args.swr_path_flag}
        for name in FIELD_FLAGS:
            if name != "swr_path":
                fields[name] = getattr(args, name)
        modes = [flag for flag, on in (("--panel", args.panel), ("--dry-run", args.dry_run)) if on]
        if args.no_wait:
            modes.append("--no-wait")
        if args.timeout is not None:
            modes.append("--timeout")
        others = ", ".join(modes[1:])
        if args.panel and others:
            raise _ArgumentProblem(
                _tr("--panel opens the form; it cannot be combined with {flags}", flags=others)
            )
        if args.dry_run and others:
            raise _ArgumentProblem(
                _tr("--dry-run sends nothing; it cannot be combined with {flags}", flags=others)
            )
        if args.preflight_only and args.no_preflight:
            raise _ArgumentProblem(
                _tr("--preflight-only runs only the checks; it cannot be combined with --no-preflight")
            )
        if args.preflight_only and modes:
            raise _ArgumentProblem(
                _tr("--preflight-only registers nothing; it cannot be combined with {flags}", flags=modes[0])
            )
        if args.no_wait and args.timeout is not None:
            raise _ArgumentProblem(_tr("--timeout bounds the wait; it cannot be combined with --no-wait"))
        # An empty --description '' means no description, as in the panel.
        given = {k: v for k, v in fields.items() if v is not None and not (k == "description" and v == "")}
        checking = [
            f
            for f, on in (("--preflight-only", args.preflight_only), ("--no-preflight", args.no_preflight))
            if on
        ]
        if not given and checking:
            raise _ArgumentProblem(
                _tr(
                    "SWR_PATH is required with {flag}: {what}", flag=checking[0], what=_tr.text(SWR_PATH_HELP)
                )
            )
        if not given and modes and not args.panel:
            raise _ArgumentProblem(
                _tr("SWR_PATH is required with {flag}: {what}", flag=modes[0], what=_tr.text(SWR_PATH_HELP))
            )
        if isinstance(given.get("swr_path"), str):
            given["swr_path"] = complete_swr_path(given["swr_path"], self._config().region)
        return given

    def _request(self, fields: dict[str, Any]) -> RegisterRequest:
        try:
            return RegisterRequest.create(**fields)
        except ValidationError as error:
            raise _ArgumentProblem(describe_problems(error.problems, self._tr)) from None

    # -- actions --------------------------------------------------------------------------

    def _config(self, **overrides: Any) -> MaiConfig:
        from ..auth.config import load_config

        return load_config(**overrides)

    def _client(self, timeout: float | None) -> ImageClient:
        return environment_client(timeout)

    def _widgets(self) -> bool:
        if self.use_widgets is not None:
            return self.use_widgets
        return getattr(self.shell, "kernel", None) is not None

    def _show_panel(self, fields: dict[str, Any]) -> None:
        from ..widgets.panel import RegisterPanel

        # Valid values in their canonical spelling; invalid ones as typed, for the form to flag.
        with contextlib.suppress(ValidationError):
            fields = {**fields, **RegisterRequest.create(**fields).to_body()}
        self.last_panel = RegisterPanel(**fields)
        display(self.last_panel)

    def _show_dry_run(self, request: RegisterRequest) -> None:
        from ..services.codegen import preview

        display(DryRun(preview(request, self._config()), self._tr))

    def _preflight(self, client: ImageClient, request: RegisterRequest, *, show_all: bool) -> list[Check]:
        """Check the image in SWR: print the checklist (only its warnings before registering);
        a failed check fails the cell with one block."""
        from ..services.preflight import check
        from ..widgets.preflight_view import MARKS

        # No --arch: ModelArts registers the field table's default, so check against that.
        arch = request.arch or str(field_spec("arch").default)
        checks = check(request.swr_path, arch=arch, services=request.services, client=client)
        failures = [c for c in checks if c.outcome == "fail"]
        shown = [c for c in checks if show_all or c.outcome == "warn"]
        _tr = self._tr
        if shown:
            print("\n".join(f"{MARKS[c.outcome]} {_tr.text(c.message)}" for c in shown))
        if failures:
            first, *others = failures
            hint = (
                _tr("Hint: fix the SWR path")
                if show_all
                else _tr("Hint: fix the SWR path, or register without checking: --no-preflight")
            )
            raise RegisterImageError(
                _tr(
                    "{magic} failed: preflight: {problem}",
                    magic=MAGIC,
                    problem=_tr.text(first.message).rstrip(".。"),
                ),
                [*(_tr.text(c.message) for c in others), hint],
            )
        return Checklist(checks)

    def _register(self, client: ImageClient, request: RegisterRequest, *, wait: bool) -> ImageRecord:
        """Register through a controller, shown as a StatusView (widgets) or printed lines.

        The controller registers and polls on its worker thread; this (the kernel's main)
        thread applies the changes it queues every fraction of a second, so the view is live
        while the cell runs. Ctrl-C (interrupt the kernel) stops following, not the image.
        """
        from ..kernel.controller import RegistrationController

        # Fields the user did not give stay unset (None is not sent), unlike the panel's defaults.
        fields: dict[str, Any] = {name: None for name in FIELD_FLAGS}
        fields.update(request.to_body())
        controller = RegistrationController(client, **fields)
        self.last_controller = controller
        widgets = self._widgets()
        lines: ProgressLines | None = None
        if widgets:
            from ..widgets.status import StatusView

            self.last_view = StatusView(controller)
            display(self.last_view)
        else:
            lines = ProgressLines(controller, self._tr)
        try:
            interrupted = pump(controller, wait=wait)
        finally:
            if lines is not None:  # printed lines: nothing follows once the cell returns
                lines.close()
                controller.close()  # the client is the kernel session's: it stays signed in
        record: ImageRecord | None = controller.record
        error: MaiWidgetsError | None = controller.error
        _tr = self._tr
        if error is not None:
            raise RegisterImageError.from_error(error, record, _tr)
        if record is None:  # cannot happen: a controller without an error has a record
            raise MaiWidgetsError("the registration ended without an image record")
        report = already_registered_report(record, request, _tr)
        if report:
            print(report)
        stopped = interrupted or controller.outcome == "stopped"
        if lines is not None and not wait:
            print(not_waiting_text(record, _tr))
        elif lines is not None and stopped:
            print(
                _tr(
                    "stopped following (interrupted); {image} carries on in ModelArts",
                    image=_label(record, _tr),
                )
            )
        if wait and not stopped and record.status != ImageStatus.ACTIVE:
            raise RegisterImageError.not_active(record, controller.outcome, tr=_tr)
        if widgets:
            self._shown.mark(record)
        return record


class Pumped(Protocol):
    """What a magic drives through a run: the registration and save controllers."""

    @property
    def record(self) -> ImageRecord | None: ...

    def submit(self) -> bool: ...

    def wait_settled(self, timeout: float | None = None) -> bool: ...

    def stop(self) -> None: ...


def pump(controller: Pumped, *, wait: bool) -> bool:
    """Run the controller's one submit and pump until it settles (or, without waiting, has a
    record): the cell stays responsive to Ctrl-C, which stops the wait. True if interrupted."""
    if not controller.submit():
        return False
    try:
        if wait:
            while not controller.wait_settled(PUMP_SECONDS):
                pass
        else:  # until the record exists; the view keeps following once the cell returns
            while controller.record is None and not controller.wait_settled(PUMP_SECONDS):
                pass
    except KeyboardInterrupt:
        controller.stop()
        controller.wait_settled(STOP_SECONDS)
        return True
    return False


def environment_client(timeout: float | None = None) -> ImageClient:
    """The kernel session's client, from the Jupyter config files and the environment read
    afresh (a magic's per-call client); ``timeout`` is its wait timeout."""
    from ..auth.config import load_config
    from ..services.images import ImageClient

    overrides: dict[str, Any] = {} if timeout is None else {"wait_timeout": timeout}
    return ImageClient.for_kernel(load_config(**overrides))


class Checklist(list["Check"]):
    """The checks ``--preflight-only`` returns: a list, shown as a one-line count (they were printed)."""

    def __repr__(self) -> str:  # English, as Python shows a value (outcome names: the API's)
        counts = ", ".join(f"{sum(c.outcome == o for c in self)} {o}" for o in ("pass", "warn", "fail"))
        return f"<{len(self)} preflight checks: {counts}>"


def describe_problems(
    problems: tuple[FieldProblem, ...] | list[FieldProblem], tr: Translation | None = None
) -> str:
    """Validation problems as one line, each under the argument the user typed."""
    _tr = tr or translation()
    parts = []
    for p in problems:
        flag = FIELD_FLAGS.get(p.field, p.field)
        allowed = ALLOWED_VALUES.get(flag)
        text = f"{flag} {_tr.text(p.message)}"
        if allowed and ", ".join(allowed) not in p.message:
            text += _tr(" (allowed: {choices})", choices=", ".join(allowed))
        parts.append(text)
    return _tr("; ").join(parts)


def already_registered_report(
    record: ImageRecord, request: RegisterRequest | None, tr: Translation | None = None
) -> str:
    """Empty unless ``record`` is an image that was registered before; else says so and what differs.

    Registering an SWR path that is already registered returns the existing image as it is
    (ModelArts changes nothing), so a notebook must not present it as what it asked for.
    """
    if not record.already_registered:
        return ""
    _tr = tr or translation()
    path = record.swr_path or record.name
    differences = registered_differences(record, request) if request is not None else ()
    rows = [
        "  "
        + _tr(
            "{field}: the existing image has {existing}; this request asked for {requested}",
            field=_tr.text(d.label),
            existing=_tr.text(d.existing),
            requested=_tr.text(d.requested),
        )
        for d in differences
    ]
    if not rows:
        return _tr(
            "{path} was already registered (image {image_id}, {status}): "
            "ModelArts returned the existing image unchanged; it matches this request.",
            path=path,
            image_id=record.id,
            status=record.status,
        )
    head = _tr(
        "{path} was already registered (image {image_id}, {status}): "
        "ModelArts returned the existing image unchanged, which differs from this request:",
        path=path,
        image_id=record.id,
        status=record.status,
    )
    closing = _tr("To register it as requested, delete the existing image first (or push a new tag).")
    return "\n".join([head, *rows, f"  {closing}"])


def not_waiting_text(record: ImageRecord, _tr: Translation) -> str:
    """What a magic prints when it returns without waiting for the image."""
    return _tr(
        "not waiting; follow it with {code} or ImageClient().wait",
        code=follow_code(record),
    )


def follow_code(record: ImageRecord) -> str:
    """The Python line that keeps following an image (the same in every language)."""
    return f"StatusView.for_image({record.id!r})"


def _label(record: ImageRecord, tr: Translation | None = None) -> str:
    _tr = tr or translation()
    return _tr("image {image_id} ({path})", image_id=record.id, path=record.swr_path or record.name)


class DryRun:
    """A dry run's display: the request that would be sent and the equivalent code."""

    def __init__(self, preview: Any, tr: Translation | None = None) -> None:
        self.preview = preview
        self._tr = tr or translation()

    def __repr__(self) -> str:
        p = self.preview
        nothing = self._tr("Dry run: nothing was sent.")
        return (
            f"{nothing}\n\n{p.method} {p.url}\n{p.body_json}\n\n"
            f"# Python\n{p.python_sdk_code}\n\n# curl\n{p.curl}"
        )

    def _repr_markdown_(self) -> str:
        p = self.preview
        nothing = self._tr("Dry run: nothing was sent.")
        return (
            f"**{nothing}**\n\n```http\n{p.method} {p.url}\n\n{p.body_json}\n```\n\n"
            f"Python:\n\n```python\n{p.python_sdk_code}\n```\n\ncurl:\n\n```bash\n{p.curl}\n```\n"
        )


class _ShownRecord:
    """Keep a cell's ``Out`` from repeating the record its status view already shows.

    The magic returns the record (so ``record = %register_image ...`` works); when the
    magic also displayed a StatusView of it, the display hook skips that one object, once.
    """

    def __init__(self, shell: InteractiveShell | None) -> None:
        self._shell = shell
        self._pending: ImageRecord | None = None

    def _formatter(self) -> Any:
        shell = self._shell
        return (
            None
            if shell is None or shell.display_formatter is None
            else (shell.display_formatter.ipython_display_formatter)
        )

    def mark(self, record: ImageRecord) -> None:
        formatter = self._formatter()
        if formatter is None:
            return
        self._pending = record
        formatter.for_type(ImageRecord, self._display)

    def _display(self, obj: ImageRecord) -> None:
        if obj is self._pending:
            self._pending = None
            return
        # Any other record displays as usual: step aside for this one call.
        formatter = self._formatter()
        formatter.pop(ImageRecord, None)
        try:
            display(obj)
        finally:
            formatter.for_type(ImageRecord, self._display)

    def forget(self, *_: object) -> None:
        """After each cell: the skip applies only to the cell that ran the magic."""
        formatter = self._formatter()
        self._pending = None
        if formatter is not None:
            formatter.pop(ImageRecord, None)


def load_register_image(ipython: InteractiveShell) -> None:
    """Register ``%register_image`` (loading twice is harmless)."""
    if "RegisterImageMagics" in ipython.magics_manager.registry:
        return
    magics = RegisterImageMagics(ipython)
    ipython.register_magics(magics)
    forget: Callable[..., None] = magics._shown.forget
    ipython.events.register("post_run_cell", forget)


def _parser_of(magics: type[RegisterImageMagics]) -> argparse.ArgumentParser:
    """The ``MagicArgumentParser`` that ``@magic_arguments`` attached to the magic."""
    parser: argparse.ArgumentParser = magics.__dict__["register_image"].parser
    return parser


# argparse's prefix matching would make ``--serv`` mean ``--service``; flags are spelled out.
_parser_of(RegisterImageMagics).allow_abbrev = False
