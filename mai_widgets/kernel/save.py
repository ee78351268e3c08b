"""One save of a notebook instance as an image, as observable state: the instances to pick from,
the fields and their problems, then the save and both states while it runs.

``SaveController`` is plain traitlets (no ipywidgets), like
:class:`~mai_widgets.kernel.controller.RegistrationController`: the "Save notebook" tab and
``%save_image`` drive this one object (``load()``, ``submit()``, ``wait_settled()``) and only
render its traits. Every HTTP call runs on a worker; trait changes reach the kernel's event loop
through a ``MainLoopWriter`` (:mod:`mai_widgets.kernel.threads`). At most one save runs at a time:
a second ``submit()`` while one is in flight (a double click) sends nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from traitlets import Bool, Dict, Enum, Float, HasTraits, Instance, Int, List, Unicode

from ..errors import (
    NOTEBOOK_ERROR_CODES,
    CancelledError,
    ConfigError,
    FieldProblem,
    MaiWidgetsError,
    ValidationError,
)
from ..i18n import N_, Msg
from ..wire.contract import ImageRecord
from ..wire.notebooks import (
    NOT_KEPT_PATHS,
    NotebookRecord,
    NotebookStatus,
    SaveImageRequest,
    validate_save_fields,
)
from .threads import CLOSE_JOIN_SECONDS, BackgroundCalls, Debouncer, MainLoopWriter, OneRun

if TYPE_CHECKING:
    from ..auth.config import MaiConfig
    from ..services.codegen import Preview
    from ..services.images import ImageClient
    from ..services.notebooks import SaveProgress

__all__ = [
    "LOAD_STATES",
    "SAVE_FIELD_LABELS",
    "SAVE_STATES",
    "SaveController",
    "not_kept_text",
    "not_running_hint",
]

SAVE_STATES = ("editing", "saving", "following", "settled", "failed")
LOAD_STATES = ("idle", "loading", "loaded", "failed")
# Field -> the label the tab shows (messages name what the user sees); the magic names its flags.
# Marked (N_): the tab translates them where it shows them.
SAVE_FIELD_LABELS: dict[str, str] = {
    "notebook_id": N_("Instance"),
    "namespace": N_("Organization"),
    "name": N_("Name"),
    "tag": N_("Tag"),
    "description": N_("Description"),
}
FORM_FIELDS = tuple(SAVE_FIELD_LABELS)
# Typing pauses this long (seconds) before the default tag is looked up in SWR again.
TAG_DELAY = 0.5
# SWR's rights on an organization (SwrNamespace.auth): 7 manage, 3 edit, 1 read.
_AUTH_EDIT = 3
# The code the service answers a save of an instance in each state with (ModelArts' error
# table); its sentence, from mai_widgets.errors, says what to do before anything is sent.
_STATE_CODES: dict[str, str] = {
    "STARTING": "ModelArts.6306",
    "STOPPING": "ModelArts.6308",
    "SNAPSHOTTING": "ModelArts.6357",
    "FROZEN": "ModelArts.6326",
}


def not_running_hint(status: object) -> str:
    """What to do about an instance that is ``status`` (not RUNNING), in the service's words (a
    :class:`~mai_widgets.i18n.Msg`: English as a str, translated where it is shown)."""
    code = _STATE_CODES.get(str(status), "ModelArts.6327")
    hint = NOTEBOOK_ERROR_CODES[code][1]
    # errors.py's hints are marked texts: looked up in the catalogue as they are
    return hint if isinstance(hint, Msg) else Msg(hint)


def _both(first: str, second: str | None = None) -> str:
    """One text, or two joined with "and" (each translated where the whole is shown)."""
    return first if second is None else Msg("{first} and {second}", first=first, second=second)


def not_kept_text() -> str:
    """The line said before every save: what the image does not contain, and the instance's pause
    (a :class:`~mai_widgets.i18n.Msg`)."""
    return Msg(
        "Not kept in the image: the instance's mounted storage ({paths}). "
        "The instance is unavailable (SNAPSHOTTING) while it saves.",
        paths=", ".join(NOT_KEPT_PATHS),
    )


@dataclass(frozen=True)
class _Loaded:
    running: list[NotebookRecord]
    this_id: str | None
    this_record: NotebookRecord | None  # "this one" when it is not RUNNING (so not in the list)
    organizations: list[tuple[str, int]]
    organizations_error: MaiWidgetsError | None


class SaveController(HasTraits):
    """Owns one save: the instances and organizations to pick from, the fields, the save and
    the live states of the instance and of the image."""

    notebooks = List(Instance(NotebookRecord), help="the instances to pick from (RUNNING, and this one)")
    this_notebook_id = Unicode("", help='the instance this kernel runs in, when it can be told ("" if not)')
    organizations = List(Unicode(), help="SWR organizations these credentials can read, writable first")
    read_only_organizations = List(Unicode(), help="those of them these credentials cannot write")
    load_state = Enum(LOAD_STATES, default_value="idle")
    load_error = Instance(MaiWidgetsError, allow_none=True, help="why the instances could not be listed")
    organizations_error = Instance(MaiWidgetsError, allow_none=True, help="why SWR could not be listed")
    fields = Dict(help="raw field values being edited: notebook_id, namespace, name, tag, description")
    problems = Dict(help="field -> list of what is wrong with it, one message per broken rule")
    state = Enum(SAVE_STATES, default_value="editing")
    notebook = Instance(NotebookRecord, allow_none=True, help="the instance being saved, as last read")
    record = Instance(ImageRecord, allow_none=True, help="the image being made, as last read")
    error = Instance(MaiWidgetsError, allow_none=True)
    outcome = Unicode("", help='how following ended: "settled", "stopped", "timeout" or ""')
    polls = Int(0, help="status reads while following")
    started_at = Float(0.0, help="time.time() when the save began")
    updated_at = Float(0.0, help="time.time() of the last answer from the service")
    endpoint = Unicode("", help="which service this talks to, in words")
    missing = List(Unicode(), help="settings to provide before saving")
    busy = Bool(False, help="a save or its follow is in flight (one at a time)")
    closed = Bool(False)

    def __init__(
        self,
        client: ImageClient | Callable[[], ImageClient] | None = None,
        *,
        config: MaiConfig | None = None,
        tag_delay: float = TAG_DELAY,
        timeout: float | None = None,
        **initial_fields: Any,
    ) -> None:
        super().__init__()
        self._client: ImageClient | None = None
        self._factory: Callable[[], ImageClient]
        if client is None:
            self._factory = lambda: _client_from(config)
        elif callable(client) and not hasattr(client, "save_notebook"):
            self._factory = client
        else:
            given = cast("ImageClient", client)
            self._factory = lambda: given
        self._timeout = timeout
        self._writer = MainLoopWriter()
        self._run = OneRun(self._writer, self._set_busy)
        self._calls = BackgroundCalls(self._writer)
        self._tag_delay = tag_delay
        self._tag_debouncer = Debouncer(tag_delay, self._refresh_tag, self._writer)
        self._tag_key: tuple[str, str] | None = None
        # Fields the user (or code) set: a default never overwrites them.
        self._edited: set[str] = {k for k, v in initial_fields.items() if v not in (None, "")}
        self.observe(self._validate, names=["fields", "notebooks", "read_only_organizations"])
        self.observe(self._after_save, names="state")
        unknown = sorted(set(initial_fields) - set(FORM_FIELDS))
        if unknown:
            raise ValidationError([FieldProblem(u, "is not a field of a save") for u in unknown])
        self.fields = {**dict.fromkeys(FORM_FIELDS, ""), **{k: v or "" for k, v in initial_fields.items()}}
        try:
            self.client()
        except ConfigError as error:  # said in the handrail line; nothing is sent
            self.missing = list(error.missing) or [error.message]

    # -- the client ------------------------------------------------------------------------

    def client(self) -> ImageClient:
        """The client to use, made on first use (raises ConfigError naming what is missing)."""
        if self._client is None:
            client = self._factory()
            self._client = client
            self.endpoint = client.endpoint_description
            self.missing = list(client.missing_settings())
        return self._client

    # -- listing ---------------------------------------------------------------------------

    def load(self) -> bool:
        """List the RUNNING instances, tell which is this one and list the SWR organizations, on
        a worker; then fill in the defaults. False when nothing started."""
        if self.closed or self.load_state == "loading":
            return False
        try:
            client = self.client()
        except MaiWidgetsError as error:
            self.load_state, self.load_error = "failed", error
            return False
        given = str(self.fields.get("notebook_id") or "") or None
        self.load_state, self.load_error = "loading", None

        def work() -> _Loaded:
            from ..services.notebooks import this_notebook

            running = client.list_notebooks(status=NotebookStatus.RUNNING)
            this_id = this_notebook(client, given)
            this_record = None
            if this_id is not None and this_id not in {n.id for n in running}:
                try:
                    this_record = client.get_notebook(this_id)
                except CancelledError:
                    raise
                except MaiWidgetsError:
                    this_id = None  # a setting naming a gone instance: the user picks
            from ..services.swr import SwrClient

            organizations: list[tuple[str, int]] = []
            trouble: MaiWidgetsError | None = None
            try:
                organizations = [(n.name, n.auth) for n in client.shared.client(SwrClient).namespaces()]
            except CancelledError:
                raise
            except MaiWidgetsError as error:  # the organization can still be typed
                trouble = error
            return _Loaded(running, this_id, this_record, organizations, trouble)

        self._calls.start(work, self._loaded, self._load_failed, name="mai-widgets-notebooks")
        return True

    def _loaded(self, found: _Loaded) -> None:
        choices = list(found.running)
        if found.this_record is not None:
            choices.insert(0, found.this_record)
        writable = [name for name, auth in found.organizations if auth >= _AUTH_EDIT]
        read_only = [name for name, auth in found.organizations if auth < _AUTH_EDIT]
        with self.hold_trait_notifications():
            self.notebooks = choices
            self.this_notebook_id = found.this_id or ""
            self.organizations = writable + read_only
            self.read_only_organizations = read_only
            self.organizations_error = found.organizations_error
            self.load_state = "loaded"
        defaults: dict[str, str] = {}
        if "notebook_id" not in self._edited and found.this_id:
            defaults["notebook_id"] = found.this_id
        if "namespace" not in self._edited and writable:
            instance = self.instance(defaults.get("notebook_id") or str(self.fields.get("notebook_id") or ""))
            own = instance.image.namespace if instance is not None and instance.image is not None else None
            defaults["namespace"] = own if own in writable else writable[0]
        self._set_defaults(defaults)
        if "tag" not in self._edited:  # the name and organization may have been given, not defaulted
            self._tag_due()

    def _load_failed(self, error: MaiWidgetsError) -> None:
        self.load_state, self.load_error = "failed", error

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Block until listing and the default tag's lookup have ended (scripts and tests)."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            if not self._calls.wait_idle(None if end is None else max(0.0, end - time.monotonic())):
                return False
            # What was applied just now (the listing's defaults) may have started the default
            # tag's lookup, or made one due: wait for that too.
            if not (self._tag_debouncer.flush() or self._calls.busy):
                return True

    def instance(self, notebook_id: str) -> NotebookRecord | None:
        """The listed instance with this id, if any."""
        return next((n for n in self.notebooks if n.id == notebook_id), None)

    # -- editing ---------------------------------------------------------------------------

    def set_field(self, name: str, value: Any) -> None:
        """The user (or code) sets a field: from now on no default replaces it."""
        self._edited.add(name)
        self._change({name: "" if value is None else value})

    def _set_defaults(self, values: Mapping[str, str]) -> None:
        self._change({k: v for k, v in values.items() if k not in self._edited})

    def _change(self, values: Mapping[str, Any]) -> None:
        if not values:
            return
        old = dict(self.fields)
        new = {**old, **values}
        if new.get("notebook_id") != old.get("notebook_id") and "name" not in self._edited:
            instance = self.instance(str(new.get("notebook_id") or ""))
            if instance is not None and instance.image is not None and instance.image.name:
                new["name"] = instance.image.name  # the image the instance runs now
        self.fields = new
        if (new.get("namespace"), new.get("name")) != (old.get("namespace"), old.get("name")):
            self._tag_due()

    def _tag_due(self) -> None:
        if self._tag_delay > 0:
            self._tag_debouncer.trigger()
        else:  # no typing to wait for (the magic): look it up now, so wait_loaded sees it
            self._refresh_tag()

    def _refresh_tag(self) -> None:
        """On the loop, once typing paused: look up a tag that namespace/name does not have yet."""
        if "tag" in self._edited or self.closed:
            return
        namespace, name = str(self.fields.get("namespace") or ""), str(self.fields.get("name") or "")
        if any(
            p.field in ("namespace", "name")
            for p in validate_save_fields({"name": name, "namespace": namespace})
        ):
            return
        if (namespace, name) == self._tag_key:
            return  # looked up already (or in flight) for this repository
        try:
            client = self.client()
        except MaiWidgetsError:
            return
        key = self._tag_key = (namespace, name)

        def done(tag: str) -> None:
            if key == self._tag_key and "tag" not in self._edited:
                self._change({"tag": tag})

        def failed(error: MaiWidgetsError) -> None:
            pass  # no default tag: the save picks one (its field says so)

        self._calls.start(
            lambda: client.default_save_tag(namespace, name), done, failed, name="mai-widgets-tag"
        )

    def _validate(self, _: Mapping[str, Any]) -> None:
        self.problems = self._problems()

    def _problems(self) -> dict[str, list[str]]:
        fields = self.fields
        problems: dict[str, list[str]] = {}
        notebook_id = str(fields.get("notebook_id") or "")
        instance = self.instance(notebook_id)
        if not notebook_id:
            problems["notebook_id"] = [Msg("is required: pick a RUNNING instance")]
        elif instance is not None and not instance.is_running:
            problems["notebook_id"] = [
                Msg(
                    "is {status}: {hint}", status=str(instance.status), hint=not_running_hint(instance.status)
                )
            ]
        values = {name: fields.get(name) for name in ("name", "namespace", "tag", "description")}
        for problem in validate_save_fields(values):
            problems.setdefault(problem.field, []).append(problem.message)
        if fields.get("namespace") in self.read_only_organizations:
            problems.setdefault("namespace", []).append(
                Msg("is read-only for these credentials: saving needs edit rights, pick another")
            )
        return problems

    @property
    def request(self) -> SaveImageRequest | None:
        """The request the fields make, or ``None`` while any field is invalid."""
        if self.problems:
            return None
        fields = self.fields
        return SaveImageRequest.create(
            name=fields["name"],
            namespace=fields["namespace"],
            tag=fields.get("tag") or None,
            description=fields.get("description") or None,
        )

    def preview(self) -> Preview:
        """The exact request ``submit()`` would send, and equivalent SDK and curl code."""
        from ..services.codegen import save_preview

        request = self.request
        if request is None:
            raise self._invalid()
        return save_preview(str(self.fields["notebook_id"]), request, self.client().config)

    def _invalid(self) -> ValidationError:
        return ValidationError(
            [FieldProblem(f, m) for f, messages in self.problems.items() for m in messages]
        )

    def blockers(self) -> list[str]:
        """Why Save cannot be pressed now, in words (empty: it can); each a
        :class:`~mai_widgets.i18n.Msg`, translated where it is shown."""
        reasons: list[str] = []
        if self.closed:
            reasons.append(Msg("this tab was closed"))
        if self.missing:
            reasons.append(
                Msg(
                    "set {settings} in the environment of the Jupyter server or kernel",
                    settings=" and ".join(self.missing),
                )
            )
        if self.busy:
            reasons.append(Msg("a save is in flight (one at a time)"))
        if self.load_state == "loading":
            reasons.append(Msg("the instances are still being listed"))
        for name, messages in self.problems.items():
            label = SAVE_FIELD_LABELS.get(name)
            reasons += [
                Msg("{field} {problem}", field=Msg(label) if label else name, problem=m) for m in messages
            ]
        return reasons

    # -- saving ----------------------------------------------------------------------------

    def submit(self) -> bool:
        """Save the chosen instance as an image, and follow both, on a worker. False when
        nothing was sent (invalid fields, missing settings, or a save already in flight)."""
        if not self._run.claim():
            return False
        try:
            request = self.request
            if request is None:
                raise self._invalid()
            client = self.client()
        except MaiWidgetsError as error:
            self._apply({"error": error, "state": "failed"})
            self._run.give_back()
            return False
        notebook_id = str(self.fields["notebook_id"])
        self._apply(
            {
                "state": "saving",
                "notebook": None,  # until the first read after the save: the listed record is older
                "record": None,
                "error": None,
                "outcome": "",
                "polls": 0,
                "started_at": time.time(),
                "updated_at": 0.0,
            }
        )
        self._run.start(
            lambda: self._save(client, notebook_id, request),
            lambda error: self._apply({"error": error, "state": "failed"}),
            "mai-widgets-save-notebook",
        )
        return True

    def _save(self, client: ImageClient, notebook_id: str, request: SaveImageRequest) -> None:
        from ..services.notebooks import follow_save

        body = request.to_body()
        record = client.save_notebook(
            notebook_id,
            name=body["name"],
            namespace=body["namespace"],
            tag=body.get("tag"),
            description=body.get("description"),
        )
        self._apply({"record": record, "state": "following", "updated_at": time.time()})
        progress: SaveProgress = follow_save(
            client,
            notebook_id,
            record,
            timeout=self._timeout,
            on_notebook=lambda n: self._apply({"notebook": n, "updated_at": time.time()}),
            on_image=lambda r: self._apply({"record": r, "updated_at": time.time()}),
            on_poll=lambda polls: self._apply({"polls": polls}),
            stop=self._run.stop_token,
        )
        final: dict[str, Any] = {
            "record": progress.image,
            "outcome": progress.outcome,
            "polls": progress.polls,
            "state": "settled",
        }
        if progress.notebook is not None:
            final["notebook"] = progress.notebook
        trouble = progress.errors.get(record.id) or next(iter(progress.errors.values()), None)
        if trouble is not None:
            final["error"] = trouble
        self._apply(final)

    def _after_save(self, change: Mapping[str, Any]) -> None:
        # The tag just used is taken now: the next default is looked up again.
        if change["new"] == "settled" and "tag" not in self._edited:
            self._tag_key = None
            self._tag_debouncer.trigger()

    def unfinished_text(self) -> str:
        """What goes on in ModelArts after following ended early (stopped or timed out), in
        words; "" when it did not, or when both the image and the instance had settled."""
        record = self.record
        if self.state != "settled" or self.outcome not in ("stopped", "timeout") or record is None:
            return ""
        going_on: list[str] = (
            [] if record.is_terminal else [Msg("the image is still {status}", status=str(record.status))]
        )
        notebook = self.notebook
        if notebook is not None and notebook.status == NotebookStatus.SNAPSHOTTING:
            going_on.append(
                Msg(
                    "the instance {name} stays unavailable (SNAPSHOTTING) until the save ends",
                    name=notebook.name or notebook.id,
                )
            )
        if not going_on:
            return ""
        lead = Msg("Stopped following") if self.outcome == "stopped" else Msg("Gave up waiting")
        # a Msg (English as a str), translated where it is shown
        return Msg(
            "{lead}: ModelArts carries on with the save; {going_on}.", lead=lead, going_on=_both(*going_on)
        )

    def stop(self) -> None:
        """Stop following now (the save itself goes on in ModelArts)."""
        self._run.stop()

    @property
    def stopping(self) -> bool:
        return self._run.stop_token.cancelled

    @property
    def worker(self) -> Any:
        return self._run.worker

    def wait_settled(self, timeout: float | None = None) -> bool:
        """Block until the save in flight (and its follow) has ended; True if it did in time."""
        return self._run.wait(timeout)

    def close(self, timeout: float = CLOSE_JOIN_SECONDS) -> None:
        """Stop everything (HTTP in flight is cut) and wait a second at most; nothing is sent after."""
        self._run.close(timeout=0.0)
        self._tag_debouncer.close()
        self._calls.close(timeout)
        self._apply({"closed": True})
        worker = self._run.worker
        if worker is not None:
            worker.join(timeout)
        self._writer.drain_here()

    # -- plumbing --------------------------------------------------------------------------

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy

    def _apply(self, values: dict[str, Any]) -> None:
        def change() -> None:
            with self.hold_trait_notifications():
                for name, value in values.items():
                    setattr(self, name, value)

        self._writer.post(change)


def _client_from(config: MaiConfig | None) -> ImageClient:
    """The kernel session's client for ``config`` (read from the environment when not given)."""
    from ..services.images import ImageClient

    return ImageClient.for_kernel(config)
