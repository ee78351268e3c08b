"""``StatusView``: one image's registration, live, as stock ipywidgets.

The view only observes a :class:`~mai_widgets.kernel.controller.RegistrationController`; everything
it shows is re-rendered from the controller's traits. Server values are HTML-escaped before
they reach an HTML widget, and errors are shown as code, message, request id and hint, never
as a traceback.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_string import HTMLStyle, LabelStyle

from ..auth.config import translation_for
from ..errors import ApiError, MaiWidgetsError, ValidationError
from ..i18n import N_, Msg, Translation, translation
from ..kernel.controller import RegistrationController
from ..kernel.threads import BackgroundCalls
from ..wire.contract import (
    FAILED_STATUSES,
    REGISTER_FIELD_TABLE,
    ImageRecord,
    ImageStatus,
    ImageType,
    Origin,
    register_again_fields,
)
from ..wire.format import image_label, size_text, time_text

if TYPE_CHECKING:
    from ..services.images import ImageClient

__all__ = [
    "FAILED_STATUSES",
    "REGISTERED_WORDS",
    "SAVED_WORDS",
    "STATUS_COLOURS",
    "ImageActions",
    "ImageWords",
    "SharedLooks",
    "StatusView",
    "badge_class_html",
    "describe_state",
    "error_html",
    "image_words",
    "record_table_html",
]

# Badge looks: CSS classes (labextension/style/base.raw.css) coloured by JupyterLab's --jp-* theme
# variables, so both themes keep their contrast; Python names no colour.
STATUS_COLOURS: dict[str, str] = {
    "INIT": "mai-badge-init",
    "CREATING": "mai-badge-creating",
    "ACTIVE": "mai-badge-active",
    "CREATE_FAILED": "mai-badge-create-failed",
    "ERROR": "mai-badge-error",
    "DELETED": "mai-badge-deleted",
}
_STATE_COLOURS: dict[str, str] = {
    "editing": "mai-badge-init",
    "submitting": "mai-badge-creating",
    "watching": "mai-badge-creating",
    "settled": "mai-badge-active",
    "failed": "mai-badge-error",
}
_UNKNOWN_COLOUR = "mai-badge-unknown"
# Where each non-terminal status sits on the progress bar (there is no real percentage).
_PROGRESS: dict[str, float] = {"INIT": 0.25, "CREATING": 0.6}
_WATCHED_TRAITS = [
    "state",
    "record",
    "error",
    "polls",
    "started_at",
    "updated_at",
    "outcome",
    "busy",
    "endpoint",
    "closed",
]


class SharedLooks:
    """One Layout or Style model per look, shared by widgets that never change theirs, and the
    one language (``tr``) a family of widgets speaks.

    Every ipywidget brings its own Layout and Style models, each one more comm to open; a
    panel has dozens of static labels and messages, so sharing halves what a kernel sends.
    """

    def __init__(self, tr: Translation | None = None) -> None:
        self._made: dict[tuple[Any, ...], Any] = {}
        self.tr = tr if tr is not None else translation_for()

    def layout(self, **values: str) -> Any:
        return self._get(widgets.Layout, values)

    def style(self, kind: type[Any], **values: str) -> Any:
        return self._get(kind, values)

    def _get(self, kind: type[Any], values: dict[str, str]) -> Any:
        key = (kind, *sorted(values.items()))
        if key not in self._made:
            self._made[key] = kind(**values)
        return self._made[key]

    def html(self, value: str = "", classes: tuple[str, ...] = (), **layout: str) -> widgets.HTML:
        return widgets.HTML(
            value, layout=self.layout(**layout), style=self.style(HTMLStyle), _dom_classes=classes
        )

    def label(self, value: str = "", classes: tuple[str, ...] = (), **layout: str) -> widgets.Label:
        return widgets.Label(
            value, layout=self.layout(**layout), style=self.style(LabelStyle), _dom_classes=classes
        )

    def close(self) -> None:
        for model in self._made.values():
            model.close()


def _join(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values)


def record_rows(record: ImageRecord) -> list[tuple[str, str]]:
    """The record's fields as (label, text) rows, in reading order; the labels are English,
    marked for translation (``_tr.text(label)`` says them in a view's language).

    The request's fields come back under their record names, labelled as the form labels them
    (the register field table); an empty description is left out.
    """
    rows = [
        (N_("Id"), record.id),
        (N_("Name"), record.name or ""),
        (N_("Tag"), record.tag or ""),
        (N_("Namespace"), record.namespace or ""),
    ]
    for spec in REGISTER_FIELD_TABLE:
        if spec.record_attr is None:
            continue
        value = getattr(record, spec.record_attr)
        text = _join(value) if isinstance(value, tuple) else str(value or "")
        if spec.name != "description" or text:
            rows.append((spec.label, text))
    size = size_text(record.size_bytes)
    rows += [
        (N_("Size"), f"{size} ({record.size} KB)" if size else ""),
        (N_("Created"), time_text(record.create_at)),
        (N_("Updated"), time_text(record.update_at)),
    ]
    return rows


# Where a long value (an SWR path, a host name) may break in a narrow panel: after a "/" or a "."
# inside it, rather than in the middle of a word.
_BREAK_AFTER = re.compile(r"(/(?=\S)|\.(?=[A-Za-z]))")


def breakable_html(text: str) -> str:
    """``text`` escaped, with line-break opportunities after each "/" and each "." before a letter."""
    return _BREAK_AFTER.sub(r"\1<wbr>", html.escape(text))


def record_table_html(record: ImageRecord, tr: Translation | None = None) -> str:
    """The record as a table; ``tr``: the labels' language (English when None)."""
    _tr = tr if tr is not None else translation()
    cells = "".join(
        f"<tr><th>{html.escape(_tr.text(label))}</th><td>{breakable_html(text)}</td></tr>"
        for label, text in record_rows(record)
    )
    return f"<table class='mai-record-table'>{cells}</table>"


def badge_html(text: str, look: str) -> str:
    """A badge whose look is a CSS class (one of ``STATUS_COLOURS``' values)."""
    return f"<span class='mai-badge {html.escape(look)}'>{html.escape(text)}</span>"


def badge_class_html(status: object) -> str:
    """A status badge styled by CSS classes (``mai-badge mai-badge-active``), not inline colours."""
    text = str(status)
    slug = "".join(c if c.isalnum() else "-" for c in text.lower())
    return f"<span class='mai-badge mai-badge-{html.escape(slug)}'>{html.escape(text)}</span>"


def field_message_html(label: str, text: str, tr: Translation | None = None) -> str:
    """One field's message beside it, as every form shows it: the field's label, then the problem
    (both in ``tr``'s language: a label or problem that is a Msg or N_-marked is translated)."""
    _tr = tr if tr is not None else translation()
    said = _tr("{label} {problem}", label=_tr.text(label), problem=_tr.text(text))
    return (
        "<span class='mai-message mai-message-error'><span class='mai-message-icon'>⚠</span> "
        f"{html.escape(said)}</span>"
    )


def error_html(error: MaiWidgetsError, tr: Translation | None = None) -> str:
    """Code, message, request id and hint of an error, escaped (server text is untrusted).

    ``tr``: the language of the words around them and of the hint (a Msg); the code, the
    request id and the service's own message stay as they are."""
    _tr = tr if tr is not None else translation()
    head = [error.code]
    if isinstance(error, ApiError):
        head.append(f"HTTP {error.status}")
        if error.error_code:
            head.append(error.error_code)
    lines = [f"<b>{html.escape(' · '.join(head))}</b>"]
    if isinstance(error, ValidationError):
        said = [_tr("{field}: {problem}", field=p.field, problem=_tr.text(p.message)) for p in error.problems]
        items = "".join(f"<li>{html.escape(text)}</li>" for text in said)
        lines.append(f"<ul>{items}</ul>")
    else:
        message = error.error_msg if isinstance(error, ApiError) and error.error_msg else error.message
        lines.append(html.escape(_tr.text(message) if isinstance(message, Msg) else message))
    if isinstance(error, ApiError) and error.request_id:
        lines.append(_tr("Request id: {id}", id=_code(error.request_id)))
    if error.hint:
        lines.append(html.escape(_tr("Hint: {hint}", hint=_tr.text(error.hint))))
    body = "<br>".join(lines)
    return f"<div class='mai-error-block'>{body}</div>"


@dataclass(frozen=True)
class ImageWords:
    """What happened to an image, in the words :func:`describe_state` puts into its sentences
    (each a :class:`~mai_widgets.i18n.Msg`: English as a str, translated where shown)."""

    ready: str  # the sentence once it is ACTIVE
    ended: str  # the sentence once it ended otherwise, with {status}
    work: str  # what ModelArts carries on with while it is not ACTIVE yet
    following: str  # the sentence while it is followed, with {status} (and {n} reads)
    following_reads: str


REGISTERED_WORDS = ImageWords(
    ready=N_("The image was registered and is ACTIVE: ready to use."),
    ended=N_("The image registered ended {status}."),
    work=Msg("the registration"),
    following=N_("Registered; following its status ({status})."),
    following_reads=N_("Registered; following its status ({status}, {n} status reads so far)."),
)
# An image made by "save this notebook as an image" (origin IMAGE_SAVE): nothing was registered.
SAVED_WORDS = ImageWords(
    ready=N_("The image was saved from a notebook instance and is ACTIVE: ready to use."),
    ended=N_("The image saved from a notebook instance ended {status}."),
    work=Msg("the save"),
    following=N_("Saved from a notebook instance; following its status ({status})."),
    following_reads=N_(
        "Saved from a notebook instance; following its status ({status}, {n} status reads so far)."
    ),
)


def image_words(record: ImageRecord | None) -> ImageWords:
    """The words for ``record``: those of a saved notebook (origin IMAGE_SAVE) or a registration."""
    return SAVED_WORDS if record is not None and record.origin == Origin.IMAGE_SAVE else REGISTERED_WORDS


def describe_state(controller: RegistrationController) -> str:
    """The controller's state as one sentence (the view always says what is going on); an image
    saved from a notebook is told in its own words (:func:`image_words`). A
    :class:`~mai_widgets.i18n.Msg`: English as a str, ``_tr.text()`` says it in a view's language."""
    record = controller.record
    state = controller.state
    words = image_words(record)
    if state == "editing":
        return Msg("Nothing registered yet.")
    if state == "submitting":
        return Msg("Sending the registration to ModelArts…")
    if state == "watching":
        status = str(record.status) if record is not None else "INIT"
        if controller.polls:
            return Msg(words.following_reads, status=status, n=controller.polls)
        return Msg(words.following, status=status)
    if state == "failed":
        if record is not None:
            return Msg(
                "Stopped following after an error; the image was last {status}.", status=str(record.status)
            )
        return Msg("Failed; nothing was registered.") if controller.error is not None else Msg("Failed.")
    # settled
    if record is None:
        return Msg("Done.")
    if controller.outcome == "stopped":
        return Msg(
            "Stopped following; the image was still {status} (ModelArts carries on with {work}).",
            status=str(record.status),
            work=words.work,
        )
    if controller.outcome == "timeout":
        return Msg(
            "Gave up waiting; the image was still {status} (ModelArts carries on with {work}).",
            status=str(record.status),
            work=words.work,
        )
    if record.status == ImageStatus.ACTIVE:
        return Msg(words.ready)
    return Msg(words.ended, status=str(record.status))


class StatusView(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """A registration's live status: badge, progress, elapsed time, message, record, error."""

    def __init__(
        self,
        controller: RegistrationController,
        *,
        looks: SharedLooks | None = None,
        actions: bool = False,
        language: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.controller = controller
        self._owns_looks = looks is None
        if looks is None:
            looks = SharedLooks(translation_for(controller.config, language=language))
        self._looks = looks
        self._tr = looks.tr
        html_widget = self._looks.html
        # Stable classes for browser tests, given at construction (each add_class is one more message).
        self.state_line = html_widget(classes=("mai-status-state",))
        self.badge = html_widget(classes=("mai-status-badge",))
        self.progress = widgets.FloatProgress(
            value=0.0,
            min=0.0,
            max=1.0,
            bar_style="info",
            layout=widgets.Layout(width="12em", max_width="100%"),
            _dom_classes=("mai-status-progress",),
        )
        self.elapsed = self._looks.label(classes=("mai-status-elapsed",))
        self.follow_button = widgets.Button(
            description=self._tr("Stop following"), icon="stop", _dom_classes=("mai-follow-button",)
        )
        self.follow_button.on_click(self._follow_clicked)
        self.message = html_widget(classes=("mai-status-message",))
        self.record_id = html_widget(classes=("mai-record-id",))
        self.table = html_widget(classes=("mai-record-table",))
        self.error_box = html_widget(classes=("mai-status-error",))
        self.endpoint_line = html_widget(classes=("mai-status-endpoint",))
        self._ended_at: float | None = None
        # Sync, Delete, Copy the SWR path and Register again, for an image that exists.
        self.actions: ImageActions | None = ImageActions(controller, looks=self._looks) if actions else None
        top = widgets.HBox(
            [self.badge, self.progress, self.elapsed, self.follow_button],
            layout=self._looks.layout(align_items="center", flex_flow="row wrap", grid_gap="4px 8px"),
        )
        super().__init__(
            [
                self.state_line,
                top,
                self.message,
                self.record_id,
                self.table,
                self.error_box,
                self.endpoint_line,
                *([self.actions] if self.actions is not None else []),
            ],
            **{"_dom_classes": ("mai-status-view",), **kwargs},
        )
        controller.observe(self._changed, names=_WATCHED_TRAITS)
        self._view_closed = False
        self.refresh()

    @classmethod
    def for_image(
        cls, image_id: str, client: ImageClient | None = None, *, actions: bool = False
    ) -> StatusView:
        """Follow an existing image live (``StatusView.for_image("<image id>")``); ``actions``
        adds Sync, Delete, Copy the SWR path and Register again."""
        controller = RegistrationController(client)
        view = cls(controller, actions=actions)
        controller.follow(image_id)
        return view

    # -- rendering -------------------------------------------------------------------------

    def _changed(self, change: Mapping[str, Any]) -> None:
        self.refresh()

    def refresh(self) -> None:
        c = self.controller
        record, state = c.record, c.state
        self.state_line.value = f"<b>{html.escape(self._tr.text(describe_state(c)))}</b>"
        if record is not None:
            status = str(record.status)
            self.badge.value = badge_html(status, STATUS_COLOURS.get(status, _UNKNOWN_COLOUR))
        else:
            self.badge.value = badge_html(state.upper(), _STATE_COLOURS[state])
        following = state in ("submitting", "watching")
        self.progress.layout.display = "" if following else "none"
        status_key = str(record.status) if record is not None else "INIT"
        self.progress.value = _PROGRESS.get(status_key, 0.1 if state == "submitting" else 1.0)
        self.elapsed.value = self._elapsed_text()
        self.follow_button.layout.display = "" if self._can_follow_again() or state == "watching" else "none"
        self.follow_button.description = (
            self._tr("Stop following") if state == "watching" else self._tr("Follow again")
        )
        self.follow_button.icon = "stop" if state == "watching" else "refresh"
        self.follow_button.disabled = c.closed
        self.message.value = self._message_html(record)
        self.record_id.value = self._tr("Image id: {id}", id=_code(record.id)) if record is not None else ""
        self.table.value = record_table_html(record, self._tr) if record is not None else ""
        self.error_box.value = error_html(c.error, self._tr) if c.error is not None else ""
        talking = self._tr("Talking to {endpoint}", endpoint=self._tr.text(c.endpoint)) if c.endpoint else ""
        self.endpoint_line.value = (
            f"<small class='mai-muted'>{html.escape(talking)}</small>" if talking else ""
        )

    def _message_html(self, record: ImageRecord | None) -> str:
        if record is None:
            return ""
        parts = []
        if record.already_registered:
            parts.append(self._tr("This SWR image was already registered: showing the existing image."))
        shown = [html.escape(p) for p in parts]
        if record.status_message:
            # the service's own words, quoted as they came
            quoted = f"<q class='mai-service-text'>{html.escape(record.status_message)}</q>"
            said = html.escape(self._tr("Status message: {message}", message="\0"))
            shown.append(said.replace("\0", quoted))
        return "<br>".join(shown)

    def _elapsed_text(self) -> str:
        c = self.controller
        if not c.started_at:
            return ""
        if c.state in ("submitting", "watching"):
            self._ended_at = None
            end = time.time()
        else:
            if self._ended_at is None:
                self._ended_at = c.updated_at or time.time()
            end = self._ended_at
        seconds = max(0.0, end - c.started_at)
        if seconds >= 60:
            return self._tr(
                "{minutes} min {seconds} s", minutes=int(seconds // 60), seconds=int(seconds % 60)
            )
        return self._tr("{seconds} s", seconds=round(seconds))

    def _can_follow_again(self) -> bool:
        c = self.controller
        record = c.record
        return (
            not c.busy
            and not c.closed
            and record is not None
            and not record.is_terminal
            and c.state in ("settled", "failed")
        )

    def _follow_clicked(self, _: widgets.Button) -> None:
        c = self.controller
        if c.state == "watching":
            c.stop()
        elif c.record is not None:
            c.follow(c.record.id)

    def close(self) -> None:
        """Stop following and close the view (no poll thread outlives it)."""
        if getattr(self, "_view_closed", True):  # closed already, or never fully built
            return
        self._view_closed = True
        self.controller.unobserve(self._changed, names=_WATCHED_TRAITS)
        if self.actions is not None:
            self.actions.close()
        self.controller.close()
        for child in (
            self.state_line,
            self.badge,
            self.progress,
            self.elapsed,
            self.follow_button,
            self.message,
            self.record_id,
            self.table,
            self.error_box,
            self.endpoint_line,
            *self.children,
        ):
            child.close()
        if self._owns_looks:
            self._looks.close()
        super().close()


# The action in flight, as "One action at a time: {action} is in flight." names it.
_ACTION_WORDS: dict[str, str] = {
    "sync": Msg("sync"),
    "delete": Msg("delete"),
    "register-again": Msg("register again"),
}


def _code(text: str) -> str:
    return f"<code>{html.escape(text)}</code>"


def _bold(text: str) -> str:
    return f"<b>{html.escape(text)}</b>"


def _confirm_box(*children: widgets.Widget, classes: tuple[str, ...]) -> widgets.VBox:
    # Its own Layout: it is shown and hidden (display), unlike the shared static looks.
    return widgets.VBox(list(children), layout=widgets.Layout(display="none"), _dom_classes=classes)


class ImageActions(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """What can be done with the image a controller shows: Sync, Delete, Copy the SWR path, and
    Register again (CREATE_FAILED or ERROR).

    Calls run on worker threads (:class:`~mai_widgets.kernel.threads.BackgroundCalls`); ``close()``
    cuts them. Listeners: ``on_deleted`` gets the deleted record, ``on_registered`` the new
    record of a Register again (the image list updates from these).
    """

    def __init__(self, controller: RegistrationController, *, looks: SharedLooks | None = None) -> None:
        self.controller = controller
        self._looks = looks if looks is not None else SharedLooks()
        self._tr = self._looks.tr
        self._owns_looks = looks is None
        self._calls = BackgroundCalls()
        self.on_deleted: list[Callable[[ImageRecord], None]] = []
        self.on_registered: list[Callable[[ImageRecord], None]] = []
        self._copy_value = ""
        self.running = ""  # the action in flight ("sync", "delete", "register-again") or ""
        self.deleted = False
        button = widgets.Button
        _tr = self._tr
        self.sync_button = button(
            description=_tr("Sync"),
            icon="refresh",
            _dom_classes=("mai-action-sync",),
            tooltip=_tr("Ask ModelArts to correct the image's status"),
        )
        self.delete_button = button(
            description=_tr("Delete…"), icon="trash", _dom_classes=("mai-action-delete",)
        )
        self.copy_button = button(
            description=_tr("Copy SWR path"), icon="copy", _dom_classes=("mai-action-copy",)
        )
        self.register_again_button = button(
            description=_tr("Register again…"), icon="redo", _dom_classes=("mai-action-register-again",)
        )
        self.message = self._looks.html(classes=("mai-action-message",))
        self.reason = self._looks.html(classes=("mai-action-reason",))  # why a button is disabled

        # Copy: the kernel cannot reach the browser's clipboard, so the path is put where a
        # selection and Ctrl+C (or Cmd+C) take it.
        self.copy_text = widgets.Textarea(
            rows=2,
            tooltip=self._tr("SWR path"),  # its name (the sentence above it is no label)
            layout=widgets.Layout(width="100%"),
            _dom_classes=("mai-swr-path-copy",),
        )
        self.copy_text.observe(self._keep_copy_text, names="value")
        self.copy_box = _confirm_box(
            self._looks.html(
                html.escape(_tr("Select the path and press Ctrl+C (Cmd+C on a Mac) to copy it:"))
            ),
            self.copy_text,
            classes=("mai-copy-box",),
        )

        self.delete_question = self._looks.html(classes=("mai-delete-question",))
        self.force_checkbox = widgets.Checkbox(
            value=False,
            description=_tr("Also delete the image from SWR"),
            indent=False,
            _dom_classes=("mai-delete-force",),
        )
        destructive = _tr(
            "Destructive: the image itself is deleted from SWR too, for every "
            "user of that SWR repository, and cannot be restored. Leave this off to remove only the "
            "ModelArts registration."
        )
        self.force_warning = self._looks.html(
            f"<span class='mai-warning'>{html.escape(destructive)}</span>",
            classes=("mai-delete-force-warning",),
        )
        self.delete_confirm_button = button(
            description=_tr("Delete"),
            button_style="danger",
            icon="trash",
            _dom_classes=("mai-delete-confirm",),
        )
        self.delete_cancel_button = button(description=_tr("Cancel"), _dom_classes=("mai-delete-cancel",))
        self.delete_box = _confirm_box(
            self.delete_question,
            self.force_checkbox,
            self.force_warning,
            widgets.HBox(
                [self.delete_confirm_button, self.delete_cancel_button],
                layout=self._looks.layout(grid_gap="8px", flex_flow="row wrap"),
            ),
            classes=("mai-delete-box",),
        )

        self.register_again_question = self._looks.html(classes=("mai-register-again-question",))
        self.register_again_confirm_button = button(
            description=_tr("Delete and register again"),
            button_style="warning",
            icon="redo",
            _dom_classes=("mai-register-again-confirm",),
        )
        self.register_again_cancel_button = button(
            description=_tr("Cancel"), _dom_classes=("mai-register-again-cancel",)
        )
        self.register_again_box = _confirm_box(
            self.register_again_question,
            widgets.HBox(
                [self.register_again_confirm_button, self.register_again_cancel_button],
                layout=self._looks.layout(grid_gap="8px", flex_flow="row wrap"),
            ),
            classes=("mai-register-again-box",),
        )
        self.buttons = widgets.HBox(
            [self.sync_button, self.delete_button, self.copy_button, self.register_again_button],
            layout=self._looks.layout(grid_gap="8px", flex_flow="row wrap"),
            _dom_classes=("mai-action-buttons",),
        )
        super().__init__(
            [
                self.buttons,
                self.reason,
                self.copy_box,
                self.delete_box,
                self.register_again_box,
                self.message,
            ],
            _dom_classes=("mai-image-actions",),
        )
        self.sync_button.on_click(lambda _: self.sync())
        self.delete_button.on_click(lambda _: self.ask_delete())
        self.delete_confirm_button.on_click(lambda _: self.delete(force=bool(self.force_checkbox.value)))
        # Cancel hides the question and its buttons: focus goes back to the button that asked it.
        self.delete_cancel_button.on_click(lambda _: self._cancel(self.delete_box, self.delete_button))
        self.copy_button.on_click(lambda _: self.show_copy())
        self.register_again_button.on_click(lambda _: self.ask_register_again())
        self.register_again_confirm_button.on_click(lambda _: self.register_again())
        self.register_again_cancel_button.on_click(
            lambda _: self._cancel(self.register_again_box, self.register_again_button)
        )
        controller.observe(self._changed, names=["record", "busy", "closed"])
        self._closed = False
        self.render()

    # -- rendering -------------------------------------------------------------------------

    def _changed(self, _: Mapping[str, Any]) -> None:
        c = self.controller
        if self.running == "register-again" and not c.busy:  # the controller's replace ended
            self.running = ""
            if c.error is not None:
                self.message.value = error_html(c.error, self._tr)
        self.render()

    @property
    def record(self) -> ImageRecord | None:
        return self.controller.record

    def cannot_delete(self) -> str:
        """Why the image shown cannot be deleted, in words ("" when it can; a Msg: English as a
        str, translated where shown)."""
        record = self.record
        if record is None:
            return Msg("No image is shown.")
        if str(record.type) == ImageType.BUILD_IN.value:
            return Msg("Presets belong to ModelArts: they cannot be deleted.")
        if self.deleted or record.status == ImageStatus.DELETED:
            return Msg(
                "{image} was deleted already: there is nothing more to delete.", image=image_label(record)
            )
        return ""

    def blockers(self) -> list[str]:
        """Why the action buttons that are disabled are, in words (the handrail line)."""
        record = self.record
        if record is None:
            return []
        reasons: list[str] = []
        if self.controller.closed:
            reasons.append(Msg("This view was closed."))
        elif self.running:
            reasons.append(
                Msg(
                    "One action at a time: {action} is in flight.",
                    action=_ACTION_WORDS.get(self.running, self.running),
                )
            )
        refusal = self.cannot_delete()
        if refusal:
            reasons.append(refusal)
        if record.status in FAILED_STATUSES and not record.swr_path:
            reasons.append(Msg("Register again needs the image's SWR path, which ModelArts did not return."))
        return reasons

    def render(self) -> None:
        record = self.record
        exists = record is not None and record.status != ImageStatus.DELETED and not self.deleted
        idle = not self.running and not self.controller.closed
        deletable = idle and not self.cannot_delete()
        self.layout.display = "" if record is not None else "none"
        self.sync_button.disabled = not (exists and idle)
        self.delete_button.disabled = not deletable
        self.force_checkbox.disabled = not deletable
        self.reason.value = "<br>".join(
            f"<span class='mai-muted'>{html.escape(self._tr.text(r))}</span>" for r in self.blockers()
        )
        self.copy_button.disabled = record is None or not record.swr_path
        failed = exists and record is not None and record.status in FAILED_STATUSES
        self.register_again_button.layout.display = "" if failed else "none"
        self.register_again_button.disabled = not (failed and idle and bool(record and record.swr_path))
        self.delete_confirm_button.disabled = not deletable
        self.register_again_confirm_button.disabled = not (exists and idle)

    def _say(self, text: str) -> None:
        self.message.value = text

    def _fail(self, error: MaiWidgetsError) -> None:
        self.running = ""
        self.message.value = error_html(error, self._tr)
        self.render()

    @staticmethod
    def _hide(box: widgets.Widget) -> None:
        box.layout.display = "none"

    def _cancel(self, box: widgets.Widget, asked_by: widgets.Button) -> None:
        self._hide(box)
        asked_by.focus()

    def _client(self) -> ImageClient | None:
        try:
            return self.controller.client()
        except MaiWidgetsError as error:
            self._fail(error)
            return None

    # -- copy ------------------------------------------------------------------------------

    def show_copy(self) -> None:
        """Show the SWR path in a text box, ready to be selected and copied."""
        record = self.record
        if record is None or not record.swr_path:
            return
        self._copy_value = record.swr_path
        self.copy_text.value = record.swr_path
        self.copy_box.layout.display = ""
        self.copy_text.focus()  # ready for Ctrl+A, Ctrl+C

    def _keep_copy_text(self, change: Mapping[str, Any]) -> None:
        # read-only in effect: a stray keystroke is undone, so what is copied is the real path
        if change["new"] != self._copy_value:
            self.copy_text.value = self._copy_value

    # -- sync ------------------------------------------------------------------------------

    def sync(self) -> bool:
        """``POST .../sync`` on a worker; the view then shows (and follows) the answer."""
        record, client = self.record, self._client()
        if record is None or client is None or self.running:
            return False
        self.running = "sync"
        self._say(html.escape(self._tr("Asking ModelArts to sync {image}…", image=image_label(record))))
        self.render()
        image_id = record.id

        def done(synced: ImageRecord) -> None:
            self.running = ""
            self._say(
                html.escape(
                    self._tr(
                        "Synced: {image} is {status}.", image=image_label(synced), status=str(synced.status)
                    )
                )
            )
            c = self.controller
            if not c.busy and not c.closed:
                if synced.is_terminal:
                    c.record = synced
                else:
                    c.follow(synced.id)
            self.render()

        self._calls.start(lambda: client.sync(image_id), done, self._fail, name="mai-widgets-sync")
        return True

    # -- delete ----------------------------------------------------------------------------

    def ask_delete(self) -> None:
        """Show the confirmation, naming the image; force (SWR too) starts off."""
        record = self.record
        if record is None or self.cannot_delete():
            return
        self.force_checkbox.value = False
        self.delete_question.value = self._tr(
            "Delete {image} (id {id}) from ModelArts?",
            image=_bold(image_label(record)),
            id=_code(record.id),
        )
        self._hide(self.register_again_box)
        self.delete_box.layout.display = ""
        self.delete_confirm_button.focus()  # as JupyterLab's own dialogs focus their accept button

    def delete(self, force: bool = False) -> bool:
        """Delete the image (``force``: from SWR too, destructive) on a worker thread.

        Refused, with the reason shown and nothing sent, for a preset and once deleted.
        """
        refusal = self.cannot_delete()
        if refusal:
            self._say(html.escape(self._tr.text(refusal)))
            return False
        record, client = self.record, self._client()
        if record is None or client is None or self.running:
            return False
        self.running = "delete"
        self._hide(self.delete_box)
        self.controller.stop()  # nothing more to follow
        label = image_label(record)
        _tr = self._tr
        self._say(
            html.escape(
                _tr("Deleting {image} and from SWR…", image=label)
                if force
                else _tr("Deleting {image}…", image=label)
            )
        )
        self.render()
        image_id = record.id

        def done(deleted: ImageRecord) -> None:
            self.running = ""
            self.deleted = True
            full = deleted if deleted.name else record.with_changes(status=deleted.status)
            self._say(
                html.escape(
                    _tr("Deleted {image} and from SWR.", image=label)
                    if force
                    else _tr("Deleted {image}.", image=label)
                )
            )
            if not self.controller.closed:
                self.controller.record = full
            self.render()
            for listener in list(self.on_deleted):
                listener(full)

        self._calls.start(
            lambda: client.delete(image_id, force=force), done, self._fail, name="mai-widgets-delete"
        )
        return True

    # -- register again --------------------------------------------------------------------

    def ask_register_again(self) -> None:
        record = self.record
        if record is None or record.status not in FAILED_STATUSES:
            return
        params = {
            "image": f"<b>{html.escape(image_label(record))}</b>",
            "status": html.escape(str(record.status)),
            "path": f"<code>{html.escape(record.swr_path or '')}</code>",
        }
        if record.status_message:
            self.register_again_question.value = self._tr(
                "{image} ended {status} ({reason}). Delete this failed record and register {path} "
                "again with the same fields?",
                reason=html.escape(record.status_message),
                **params,
            )
        else:
            self.register_again_question.value = self._tr(
                "{image} ended {status}. Delete this failed record and register {path} "
                "again with the same fields?",
                **params,
            )
        self._hide(self.delete_box)
        self.register_again_box.layout.display = ""
        self.register_again_confirm_button.focus()

    def register_again(self) -> bool:
        """Replace the failed record (the controller deletes it, registers the same fields and
        follows the new image). A second call while one is in flight does nothing."""
        record = self.record
        if record is None or self.running or self.deleted or not self.controller.replaceable():
            return False
        self.running = "register-again"  # before the call: a refusal ends it through _changed
        self._hide(self.register_again_box)
        self._say(
            html.escape(
                self._tr(
                    "Deleting the failed record of {image} and registering again…", image=image_label(record)
                )
            )
        )
        if not self.controller.replace_failed(register_again_fields(record), self._registered_again):
            self.running = ""
            self.render()
            return False
        self.render()
        return True

    def _registered_again(self, new: ImageRecord) -> None:
        self._say(
            self._tr(
                "Registered {image} again: id {id}.",
                image=html.escape(image_label(new)),
                id=_code(new.id),
            )
        )
        for listener in list(self.on_registered):
            listener(new)

    # -- waiting and closing ---------------------------------------------------------------

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the action in flight has ended (for scripts and tests); a register again
        ends when the new image has settled."""
        ok = self._calls.wait_idle(timeout)
        if self.running == "register-again":
            ok = self.controller.wait_settled(timeout) and ok
        return ok

    def close(self) -> None:
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self.controller.unobserve(self._changed, names=["record", "busy", "closed"])
        self._calls.close()
        for child in (self.copy_box, self.delete_box, self.register_again_box):
            for grandchild in child.children:
                grandchild.close()
            child.layout.close()
            child.close()
        for widget in (
            self.sync_button,
            self.delete_button,
            self.copy_button,
            self.register_again_button,
            self.delete_confirm_button,
            self.delete_cancel_button,
            self.register_again_confirm_button,
            self.register_again_cancel_button,
            self.buttons,
            self.message,
            self.reason,
        ):
            widget.close()
        if self._owns_looks:
            self._looks.close()
        super().close()
