"""One registration, as observable state: the request being edited, its problems, its progress.

``RegistrationController`` is plain traitlets (no ipywidgets), so scripts and tests drive it
directly (``submit()``, ``record``, ``state``) and the panel, the status view and the magic
only observe it.

Threads (:mod:`mai_widgets.kernel.threads`): HTTP calls run on a worker thread so the kernel
never freezes. The worker never writes a trait itself: it hands each change to a
``MainLoopWriter``, which applies it on the kernel's event loop when there is one (ipykernel)
and directly, under a lock, when there is none (pytest, scripts). A stop event ends the
worker's wait early; ``close()`` (the panel's close), ``stop()`` and interpreter exit all set
it, so no poll thread outlives its panel.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from traitlets import Bool, Dict, Enum, Float, HasTraits, Instance, Int, List, Unicode

from ..errors import ConfigError, MaiWidgetsError, ValidationError
from ..i18n import Msg
from ..services.preflight import Check
from ..transport.deadline import Cancel, Deadline, call_scope
from ..wire.contract import (
    FAILED_STATUSES,
    FIELDS_BY_NAME,
    REGISTER_FIELD_TABLE,
    ImageRecord,
    RegisterRequest,
    complete_swr_path,
    form_defaults,
    parse_register_fields,
    validate_image_id,
)
from .threads import CLOSE_JOIN_SECONDS, BackgroundCalls, Debouncer, MainLoopWriter, OneRun, start_thread

if TYPE_CHECKING:
    from ..auth.config import MaiConfig
    from ..services.codegen import Preview
    from ..services.images import ImageClient, WaitResult
    from ..services.session import Session

__all__ = [
    "FIELD_LABELS",
    "PREFLIGHT_DELAY",
    "PREFLIGHT_STATES",
    "STATES",
    "RegistrationController",
    "and_list",
    "default_fields",
    "field_problem_text",
]

log = logging.getLogger(__name__)

STATES = ("editing", "submitting", "watching", "settled", "failed")
# Wire name -> the label the panel shows, so messages name what the user sees (each a Msg:
# English as a str, translated where it is shown).
FIELD_LABELS: dict[str, str] = {spec.name: spec.label for spec in REGISTER_FIELD_TABLE}
# How long the background look for instance credentials may take (metadata service, then IAM).
LEARN_SECONDS = 15.0
PREFLIGHT_STATES = ("off", "waiting", "running", "done")
# Typing pauses this long (seconds) before the preflight of a complete path starts.
PREFLIGHT_DELAY = 0.5


def and_list(items: list[str]) -> str:
    """``a and b and c``, as a :class:`~mai_widgets.i18n.Msg` a view translates as a whole
    (each item that is a Msg too)."""
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return Msg("{first} and {rest}", first=items[0], rest=and_list(items[1:]))


def field_problem_text(name: str, problem: str) -> Msg:
    """A field's problem named by the field's label: ``SWR path must not contain spaces``."""
    return Msg("{label} {problem}", label=FIELD_LABELS.get(name, name), problem=problem)


def default_fields(config: MaiConfig | None) -> dict[str, Any]:
    """The form's starting values: the field table's defaults plus the configured workspace."""
    values = form_defaults()
    if config is not None and config.workspace_id:
        values["workspace_id"] = config.workspace_id
    return values


def _sendable(fields: Mapping[str, Any], region: str | None) -> dict[str, Any]:
    """The fields that go into the request: empty optional texts are not sent, and a host-less
    SWR path (``org/image:tag``) gets the region's registry. This is where the panel's field
    (or ``RegistrationController(**fields)``) enters, so the one completion of a path typed
    there happens here; the client sends the request as it is."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        spec = FIELDS_BY_NAME.get(name)
        if value is None or (value == "" and spec is not None and spec.empty_is_unset):
            continue
        out[name] = value
    path = out.get("swr_path")
    if isinstance(path, str) and region:
        out["swr_path"] = complete_swr_path(path, region)
    return out


# Controllers that started a worker, so interpreter exit (kernel shutdown) can stop them all.
_LIVE: weakref.WeakSet[RegistrationController] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for controller in list(_LIVE):
        controller.stop()


class RegistrationController(HasTraits):
    """Owns one registration: its fields, their problems, its state, record and error."""

    fields = Dict(help="raw field values being edited, by wire name")
    problems = Dict(help="field wire name -> what is wrong with it")
    missing = List(Unicode(), help="environment variables or settings to provide before registering")
    state = Enum(STATES, default_value="editing")
    record = Instance(ImageRecord, allow_none=True)
    error = Instance(MaiWidgetsError, allow_none=True)
    outcome = Unicode("", help='how following ended: "settled", "stopped", "timeout" or ""')
    polls = Int(0, help="status reads while following")
    started_at = Float(0.0, help="time.time() when the submission (or following) began")
    updated_at = Float(0.0, help="time.time() of the last answer from the service")
    endpoint = Unicode("", help="which service this talks to, in words")
    busy = Bool(False, help="a submission or a follow is in flight (one at a time)")
    closed = Bool(False, help="closed: nothing more will be sent or followed")
    credentials_source = Unicode("", help="where the credentials come from, in words (never a value)")
    checks = List(Instance(Check), help="the preflight checks of the current path, arch and services")
    preflight_state = Enum(PREFLIGHT_STATES, default_value="off", help="off: no complete path (or disabled)")
    warnings_accepted = Bool(False, help='the user answered "Register anyway" to these checks\' warnings')
    register_waiting = Bool(
        False, help="Register was pressed before the path's checks ended: it goes on once they pass"
    )

    def __init__(
        self,
        client: ImageClient | None = None,
        *,
        config: MaiConfig | None = None,
        preflight: bool = False,
        preflight_delay: float = PREFLIGHT_DELAY,
        hold_background: bool = False,
        **initial_fields: Any,
    ) -> None:
        """``hold_background`` (a panel's controller): the instance metadata look-up and the checks
        of a path given here wait for :meth:`start_background`, so the form is on screen first."""
        super().__init__()
        self._held = hold_background
        self._pending_learn: Session | None = None
        self._client = client
        self._config = client.config if client is not None else config
        self._writer = MainLoopWriter()
        self._run = OneRun(self._writer, self._set_busy)
        self._setup_error: ConfigError | None = None
        self._learning = Cancel()  # the background look for instance credentials, ended by close()
        self._resolve_setup()
        self._preflight_key: tuple[str, str, tuple[str, ...]] | None = None
        self._preflight_token: Cancel | None = None
        self._preflight_calls: BackgroundCalls | None = None
        self._preflight_debouncer: Debouncer | None = None
        self.observe(self._validate, names="fields")
        if preflight:
            self._preflight_calls = BackgroundCalls(self._writer)
            self._preflight_debouncer = Debouncer(preflight_delay, self._start_preflight, self._writer)
            self.observe(self._preflight_input_changed, names="fields")
            self.observe(self._recheck_after_registering, names="state")
        self.fields = {**default_fields(self._config), **initial_fields}
        # An edit after construction means the form is in use: nothing waits any longer.
        self.observe(self._edited, names="fields")

    # -- configuration ---------------------------------------------------------------------

    def _resolve_setup(self) -> None:
        """Read the configuration now, so a missing setting is shown before any click.

        No network I/O here: with nothing configured locally, the instance metadata service is
        asked in the background (:meth:`_learn_instance_credentials`); the panel opens at once
        and learns later.
        """
        if self._client is not None:
            self.endpoint = self._client.endpoint_description
            self.missing = list(self._client.missing_settings())
            self.credentials_source = self._client.credentials_source
            return
        try:
            from ..auth.config import load_config
            from ..services.session import Session

            if self._config is None:
                self._config = load_config()
            session = Session.for_config(self._config)
            self.endpoint = self._config.endpoint_description()
            self.missing = session.missing_settings()
            self.credentials_source = session.credentials_source
            if self.missing and not session.has_local_credentials():
                if self._held:
                    self._pending_learn = session
                else:
                    self._learn_instance_credentials(session)
        except ConfigError as error:
            self._setup_error = error
            self.missing = list(error.missing) or [error.message]

    def _learn_instance_credentials(self, session: Session) -> None:
        """Ask the instance metadata service (ECS/BMS with an agency) on a background thread;
        when it answers, the missing settings clear and Register can be pressed."""

        def learn() -> None:
            try:
                with call_scope(Deadline(LEARN_SECONDS), self._learning):
                    _ = session.project_id  # the first request: metadata service, then IAM
            except MaiWidgetsError as error:
                log.debug("no instance credentials: %s", error.message)
                return
            from ..services.images import ImageClient

            client = session.client(ImageClient)
            with self._run.lock:
                if self._run.closed or self._client is not None:
                    return
                self._client = client
            self._apply({"missing": [], "credentials_source": client.credentials_source})

        start_thread(learn, "mai-widgets-instance-credentials")

    def start_background(self) -> None:
        """Start what a held controller kept back: the metadata-service look-up (with it the
        import of requests) and the checks of the starting path. Once only."""
        if not self._held:
            return
        self._held = False
        if self._closed:
            return
        session, self._pending_learn = self._pending_learn, None
        if session is not None:
            self._learn_instance_credentials(session)
        if self._preflight_key is not None and self._preflight_debouncer is not None:
            self._preflight_debouncer.trigger()

    def start_background_soon(self) -> None:
        """:meth:`start_background` on the kernel loop's next turn, once the cell that displays the
        form has sent it; at once where no loop turns (scripts, tests)."""
        loop = self._writer.loop
        if self._held and self._writer.uses_loop and loop is not None:
            loop.call_soon_threadsafe(self.start_background)
        else:
            self.start_background()

    def _edited(self, _: Mapping[str, Any]) -> None:
        self.start_background()

    @property
    def config(self) -> MaiConfig | None:
        return self._config

    @property
    def _closed(self) -> bool:
        return self._run.closed

    @property
    def stopping(self) -> bool:
        """The run in flight was asked to stop (``stop()``, ``close()``)."""
        return self._run.stop_token.cancelled

    def client(self) -> ImageClient:
        """The client to use, made from the configuration on first use."""
        if self._client is None:
            if self._setup_error is not None:
                raise self._setup_error
            if self.missing:
                raise ConfigError(
                    f"set {', '.join(self.missing)} before registering", missing=tuple(self.missing)
                )
            from ..services.images import ImageClient
            from ..services.session import Session

            self._client = Session.for_config(self._config).client(ImageClient)
        return self._client

    # -- editing ---------------------------------------------------------------------------

    def set_field(self, name: str, value: Any) -> None:
        self.update_fields(**{name: value})

    def update_fields(self, **values: Any) -> None:
        self.fields = {**self.fields, **values}

    def _validate(self, change: Mapping[str, Any]) -> None:
        _, problems = parse_register_fields(self._sendable(change["new"]))
        by_field: dict[str, str] = {}
        for p in problems:
            by_field.setdefault(p.field, p.message)
        self.problems = by_field

    def _sendable(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return _sendable(fields, self._config.region if self._config is not None else None)

    @property
    def request(self) -> RegisterRequest | None:
        """The request the current fields make, or ``None`` while any field is invalid."""
        request, _ = parse_register_fields(self._sendable(self.fields))
        return request

    def preview(self) -> Preview:
        """The exact request ``submit()`` would send, and equivalent SDK/curl code."""
        from ..auth.config import load_config
        from ..services.codegen import preview

        request = self.request
        if request is None:
            raise ValidationError(list(parse_register_fields(self._sendable(self.fields))[1]))
        return preview(request, self._config if self._config is not None else load_config())

    def blockers(self) -> list[str]:
        """Why Register cannot be pressed now, in words (empty: it can)."""
        reasons: list[str] = []
        if self.closed:
            reasons.append(Msg("this panel was closed"))
        if self.missing:
            reasons.append(
                Msg(
                    "set {settings} in the environment of the Jupyter server or kernel",
                    settings=and_list(list(self.missing)),
                )
            )
        if self.busy:
            if self.state == "submitting":
                reasons.append(Msg("a registration is in flight (one registration at a time)"))
            else:
                reasons.append(Msg("following the image (one registration at a time)"))
        for name, message in self.problems.items():
            reasons.append(field_problem_text(name, message))
        for failed in self.preflight_failures():
            reasons.append(failed.message)  # a sentence: the panel leaves out its full stop
        if self.register_waiting:
            reasons.append(Msg("the image is being checked first; it registers as soon as the checks pass"))
        return reasons

    # -- preflight -------------------------------------------------------------------------

    @property
    def preflight_enabled(self) -> bool:
        return self._preflight_debouncer is not None

    def preflight_failures(self) -> list[Check]:
        return [c for c in self.checks if c.outcome == "fail"]

    def preflight_warnings(self) -> list[Check]:
        return [c for c in self.checks if c.outcome == "warn"]

    def needs_confirmation(self) -> bool:
        """Register should ask "Register anyway" first: a check warns and the user has not answered."""
        return bool(self.preflight_warnings()) and not self.warnings_accepted

    def accept_warnings(self) -> None:
        self.warnings_accepted = True

    def _preflight_inputs(self, fields: Mapping[str, Any]) -> tuple[str, str, tuple[str, ...]] | None:
        """What preflight looks at (the completed path, arch, services), or None without a path."""
        if "swr_path" in self.problems or not isinstance(fields.get("swr_path"), str):
            return None
        sendable = self._sendable(fields)
        services = sendable.get("services")
        listed = tuple(str(s) for s in services) if isinstance(services, (list, tuple)) else ()
        return (str(sendable["swr_path"]), str(sendable.get("arch") or ""), listed)

    def _preflight_input_changed(self, change: Mapping[str, Any]) -> None:
        key = self._preflight_inputs(change["new"])
        if key == self._preflight_key:
            return
        self._preflight_key = key
        self.register_waiting = False  # Register waited for the checks of what was clicked, not of this
        if self._preflight_token is not None:
            self._preflight_token.cancel()  # its answer is about other input now
            self._preflight_token = None
        assert self._preflight_debouncer is not None
        self._preflight_debouncer.cancel()
        with self.hold_trait_notifications():
            self.checks = []
            self.warnings_accepted = False
            self.preflight_state = "off" if key is None else "waiting"
        if key is not None and not self._closed and not self._held:
            self._preflight_debouncer.trigger()

    def _recheck_after_registering(self, change: Mapping[str, Any]) -> None:
        """A registration ended: "already registered" has changed, so the checks run again."""
        if change["new"] in ("settled", "failed") and self._preflight_key is not None:
            self._preflight_key = None
            self._preflight_input_changed({"new": self.fields})

    def _start_preflight(self) -> None:
        """On the loop, once typing paused: run the checks of the current input on a worker."""
        key = self._preflight_key
        calls = self._preflight_calls
        if key is None or calls is None or self._closed:
            return
        self.preflight_state = "running"
        path, arch, services = key
        try:
            client: ImageClient | None = self.client()
        except MaiWidgetsError:
            client = None

        def work() -> list[Check]:
            from ..services.preflight import check
            from ..services.swr import SwrClient

            if client is None:
                return check(path, arch=arch or None, services=services)
            # the session's SWR client: one temporary login for the checks, the picker and more
            swr = client.shared.client(SwrClient)
            return check(path, arch=arch or None, services=services, client=client, swr=swr)

        def done(checks: list[Check]) -> None:
            if key == self._preflight_key:
                self._apply({"checks": checks, "preflight_state": "done"})

        def failed(error: MaiWidgetsError) -> None:
            if key == self._preflight_key:
                trouble = Check(
                    "access",
                    "warn",
                    Msg("Preflight could not run: {reason}.", reason=error.message.rstrip(".")),
                )
                self._apply({"checks": [trouble], "preflight_state": "done"})

        self._preflight_token = calls.start(work, done, failed, name="mai-widgets-preflight")

    def run_preflight_now(self) -> None:
        """Start a pending preflight at once (an Enter key, a test), without the typing delay."""
        self.start_background()  # asked for explicitly: nothing waits for the form any longer
        if self._preflight_debouncer is not None:
            self._preflight_debouncer.flush()

    def wait_preflight(self, timeout: float | None = None) -> bool:
        """Start any pending preflight now and block until it has ended (scripts and tests)."""
        self.run_preflight_now()
        if self._preflight_calls is None:
            return True
        return self._preflight_calls.wait_idle(timeout)

    # -- actions ---------------------------------------------------------------------------

    def submit(self) -> bool:
        """Register the current fields on a worker thread. False when nothing was sent.

        At most one submission runs at a time: a second call while one is in flight (a
        double click) registers nothing.
        """
        if not self._claim():
            return False
        try:
            request = self.request
            if request is None:
                problems = parse_register_fields(self._sendable(self.fields))[1]
                raise ValidationError(problems)
            client = self.client()
        except MaiWidgetsError as error:
            return self._refuse(error)
        self._begin("submitting", "mai-widgets-register", lambda: self._run_submit(client, request))
        return True

    def follow(self, image_id: str) -> bool:
        """Follow an existing image's status until it settles. False when nothing started."""
        if not self._claim():
            return False
        try:
            validate_image_id(image_id)
            client = self.client()
        except MaiWidgetsError as error:
            return self._refuse(error)
        self._begin("watching", "mai-widgets-follow", lambda: self._run_follow(client, image_id))
        return True

    def show(self, record: ImageRecord, outcome: str = "settled", *, started_at: float = 0.0) -> None:
        """Show a record followed elsewhere (a notebook saved as an image) as settled; nothing is
        sent. Ignored while this controller's own run is in flight."""
        if self.busy or self.closed:
            return
        self._apply(
            {
                "record": record,
                "state": "settled",
                "outcome": outcome,
                "error": None,
                "started_at": started_at,
                "updated_at": time.time(),
            }
        )

    def replaceable(self) -> bool:
        """The record shown is a failed registration that :meth:`replace_failed` can replace."""
        record = self.record
        return record is not None and record.status in FAILED_STATUSES and not self.busy and not self.closed

    def replace_failed(
        self,
        fields: Mapping[str, Any] | None = None,
        on_registered: Callable[[ImageRecord], None] | None = None,
    ) -> bool:
        """Replace the failed registration shown (``record``): delete that record, register
        ``fields`` (the current ones when not given), and follow the new image. False when
        nothing started.

        Like :meth:`submit`, one at a time: a second call while one is in flight (a double
        click) does nothing, so the failed record is deleted once. ``on_registered`` gets the
        new record on the kernel loop, before it is followed. A record deleted elsewhere
        meanwhile is gone all the same; if the delete fails otherwise, the failed record stays
        shown, with the error.
        """
        failed = self.record
        if failed is None or failed.status not in FAILED_STATUSES or not self._claim():
            return False
        try:
            if fields is not None:
                self.fields = {**default_fields(self._config), **fields}
            request = self.request
            if request is None:
                raise ValidationError(parse_register_fields(self._sendable(self.fields))[1])
            client = self.client()
        except MaiWidgetsError as error:
            return self._refuse(error)
        self._begin(
            "submitting",
            "mai-widgets-replace-failed",
            lambda: self._run_replace(client, failed, request, on_registered),
            record=failed,
        )
        return True

    def _refuse(self, error: MaiWidgetsError) -> bool:
        """Nothing could start: show why and give the claim back (False, for submit/follow)."""
        self._apply({"error": error, "state": "failed"})
        self._run.give_back()
        return False

    def stop(self) -> None:
        """Stop following (or registering) now: pauses end and HTTP in flight is cut.

        The image itself is unaffected; nothing more is sent.
        """
        self._run.stop()

    def close(self, timeout: float = CLOSE_JOIN_SECONDS) -> None:
        """Stop and wait (a second at most) for the worker to end; the panel calls this when it
        closes. Nothing is sent after it returns."""
        self._run.close(timeout=0.0)  # closed, and the run in flight cut; joined below
        self._learning.cancel()
        if self._preflight_debouncer is not None:
            self._preflight_debouncer.close()
        if self._preflight_calls is not None:
            self._preflight_calls.close()
        self._apply({"closed": True})
        worker = self._run.worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout)
        self._writer.drain_here()

    def wait_settled(self, timeout: float | None = None) -> bool:
        """Block until the current submission or follow has ended; True if it did in time.

        Safe to call on the kernel's main thread: pending trait changes are applied here.
        """
        end = None if timeout is None else time.monotonic() + timeout
        # Register waits for the path's checks: they end (and it starts, or is refused) first. A
        # loop, as their start may itself have been queued behind this very call.
        while self.register_waiting and self.preflight_state in ("waiting", "running"):
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return False
            self.wait_preflight(left)
        return self._run.wait(None if end is None else max(0.0, end - time.monotonic()))

    @property
    def worker(self) -> threading.Thread | None:
        return self._run.worker

    # -- worker plumbing -------------------------------------------------------------------

    def _claim(self) -> bool:
        return self._run.claim()

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy

    def _begin(
        self, state: str, name: str, work: Callable[[], None], record: ImageRecord | None = None
    ) -> None:
        now = time.time()
        self._apply(
            {
                "state": state,
                "record": record,
                "error": None,
                "outcome": "",
                "polls": 0,
                "started_at": now,
                "updated_at": 0.0,
            }
        )
        _LIVE.add(self)
        self._run.start(work, self._failed, name)

    def _failed(self, error: MaiWidgetsError) -> None:
        self._apply({"error": error, "state": "failed"})

    def _apply(self, values: dict[str, Any]) -> None:
        def change() -> None:
            with self.hold_trait_notifications():
                for name, value in values.items():
                    setattr(self, name, value)

        self._writer.post(change)

    def _run_submit(self, client: ImageClient, request: RegisterRequest) -> None:
        record = client.register(request)
        self._apply({"record": record, "updated_at": time.time()})
        self._watch(client, record)

    def _run_replace(
        self,
        client: ImageClient,
        failed: ImageRecord,
        request: RegisterRequest,
        on_registered: Callable[[ImageRecord], None] | None,
    ) -> None:
        record = client.replace_failed(failed, request)
        self._apply({"record": record, "updated_at": time.time()})
        if on_registered is not None:
            self._writer.post(lambda: on_registered(record))
        self._watch(client, record)

    def _run_follow(self, client: ImageClient, image_id: str) -> None:
        record = client.get(image_id)
        self._apply({"record": record, "updated_at": time.time(), "polls": 1})
        self._watch(client, record)

    def _watch(self, client: ImageClient, record: ImageRecord) -> None:
        if record.is_terminal:
            self._apply({"state": "settled", "outcome": "settled"})
            return
        self._apply({"state": "watching"})
        base = self.polls

        def on_update(update: ImageRecord) -> None:
            self._apply({"record": update, "updated_at": time.time()})

        def on_poll(polls: int) -> None:
            self._apply({"polls": base + polls, "updated_at": time.time()})

        timeout = self._config.wait_timeout if self._config is not None else None
        # The record in hand counts as the first read: the first GET waits for the first pause.
        result: WaitResult = client.wait(
            record.id,
            timeout=timeout,
            on_update=on_update,
            stop=self._run.stop_token,
            on_poll=on_poll,
            known=record,
        )
        self._apply(
            {
                "record": result.record,
                "state": "settled",
                "outcome": result.outcome,
                "polls": base + result.polls,
            }
        )
