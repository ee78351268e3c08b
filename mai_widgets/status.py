"""``StatusView``: one image's registration, live, as stock ipywidgets.

The view only observes a :class:`~mai_widgets.controller.RegistrationController`; everything
it shows is re-rendered from the controller's traits. Server values are HTML-escaped before
they reach an HTML widget, and errors are shown as code, message, request id and hint, never
as a traceback.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_string import HTMLStyle, LabelStyle

from .contract import REGISTER_FIELD_TABLE, ImageRecord, ImageStatus
from .controller import RegistrationController
from .errors import ApiError, MaiWidgetsError, ValidationError

if TYPE_CHECKING:
    from .client import ImageClient

__all__ = [
    "STATUS_COLOURS",
    "SharedLooks",
    "StatusView",
    "describe_state",
    "error_html",
    "human_size",
    "record_table_html",
]

# Badge colours: neutral while waiting, blue while building, green/red when settled.
STATUS_COLOURS: dict[str, str] = {
    "INIT": "#6b7280",
    "CREATING": "#1d4ed8",
    "ACTIVE": "#15803d",
    "CREATE_FAILED": "#b91c1c",
    "ERROR": "#b91c1c",
    "DELETED": "#4b5563",
}
_STATE_COLOURS: dict[str, str] = {
    "editing": "#6b7280",
    "submitting": "#1d4ed8",
    "watching": "#1d4ed8",
    "settled": "#15803d",
    "failed": "#b91c1c",
}
_UNKNOWN_COLOUR = "#92400e"
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
    """One Layout or Style model per look, shared by widgets that never change theirs.

    Every ipywidget brings its own Layout and Style models, each one more comm to open; a
    panel has dozens of static labels and messages, so sharing halves what a kernel sends.
    """

    def __init__(self) -> None:
        self._made: dict[tuple[Any, ...], Any] = {}

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


def human_size(size_kb: int | None) -> str:
    """A size given in KB (as ModelArts reports it) in binary units, e.g. ``3.1 GiB``."""
    if size_kb is None:
        return "unknown"
    value = float(size_kb) * 1024
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else ""


def _join(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values)


def record_rows(record: ImageRecord) -> list[tuple[str, str]]:
    """The record's fields as (label, text) rows, in reading order.

    The request's fields come back under their record names, labelled as the form labels them
    (the register field table); an empty description is left out.
    """
    rows = [
        ("Id", record.id),
        ("Name", record.name or ""),
        ("Tag", record.tag or ""),
        ("Namespace", record.namespace or ""),
    ]
    for spec in REGISTER_FIELD_TABLE:
        if spec.record_attr is None:
            continue
        value = getattr(record, spec.record_attr)
        text = _join(value) if isinstance(value, tuple) else str(value or "")
        if spec.name != "description" or text:
            rows.append((spec.label, text))
    rows += [
        ("Size", "" if record.size is None else f"{human_size(record.size)} ({record.size} KB)"),
        ("Created", _when(record.create_at)),
        ("Updated", _when(record.update_at)),
    ]
    return rows


def record_table_html(record: ImageRecord) -> str:
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:1em;font-weight:600'>{html.escape(label)}</th>"
        f"<td style='word-break:break-all'>{html.escape(text)}</td></tr>"
        for label, text in record_rows(record)
    )
    return f"<table class='mai-record-table'>{cells}</table>"


def badge_html(text: str, colour: str) -> str:
    return (
        f"<span style='background:{colour};color:#fff;border-radius:10px;padding:2px 10px;"
        f"font-weight:600;font-size:90%'>{html.escape(text)}</span>"
    )


def error_html(error: MaiWidgetsError) -> str:
    """Code, message, request id and hint of an error, escaped (server text is untrusted)."""
    head = [error.code]
    if isinstance(error, ApiError):
        head.append(f"HTTP {error.status}")
        if error.error_code:
            head.append(error.error_code)
    lines = [f"<b>{html.escape(' · '.join(head))}</b>"]
    if isinstance(error, ValidationError):
        items = "".join(f"<li>{html.escape(str(p))}</li>" for p in error.problems)
        lines.append(f"<ul style='margin:0'>{items}</ul>")
    else:
        message = error.error_msg if isinstance(error, ApiError) and error.error_msg else error.message
        lines.append(html.escape(message))
    if isinstance(error, ApiError) and error.request_id:
        lines.append(f"Request id: <code>{html.escape(error.request_id)}</code>")
    if error.hint:
        lines.append(f"Hint: {html.escape(error.hint)}")
    body = "<br>".join(lines)
    return (
        "<div style='border-left:4px solid #b91c1c;background:rgba(185,28,28,0.08);"
        f"padding:4px 8px'>{body}</div>"
    )


def describe_state(controller: RegistrationController) -> str:
    """The controller's state as one sentence (the view always says what is going on)."""
    record = controller.record
    state = controller.state
    if state == "editing":
        return "Nothing registered yet."
    if state == "submitting":
        return "Sending the registration to ModelArts…"
    if state == "watching":
        status = record.status if record is not None else "INIT"
        reads = f", {controller.polls} status reads so far" if controller.polls else ""
        return f"Registered; following its status ({status}{reads})."
    if state == "failed":
        if record is not None:
            return f"Stopped following after an error; the image was last {record.status}."
        return "Failed; nothing was registered." if controller.error is not None else "Failed."
    # settled
    if record is None:
        return "Done."
    if controller.outcome == "stopped":
        return f"Stopped following; the image was still {record.status} (ModelArts carries on)."
    if controller.outcome == "timeout":
        return f"Gave up waiting; the image was still {record.status} (ModelArts carries on)."
    if record.status == ImageStatus.ACTIVE:
        return "The image is registered and ACTIVE: ready to use."
    return f"The image ended {record.status}."


class StatusView(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """A registration's live status: badge, progress, elapsed time, message, record, error."""

    def __init__(
        self, controller: RegistrationController, *, looks: SharedLooks | None = None, **kwargs: Any
    ) -> None:
        self.controller = controller
        self._owns_looks = looks is None
        self._looks = looks if looks is not None else SharedLooks()
        html_widget = self._looks.html
        # Stable classes for browser tests, given at construction (each add_class is one more message).
        self.state_line = html_widget(classes=("mai-status-state",))
        self.badge = html_widget(classes=("mai-status-badge",))
        self.progress = widgets.FloatProgress(
            value=0.0,
            min=0.0,
            max=1.0,
            bar_style="info",
            layout=widgets.Layout(width="12em"),
            _dom_classes=("mai-status-progress",),
        )
        self.elapsed = self._looks.label(classes=("mai-status-elapsed",))
        self.follow_button = widgets.Button(
            description="Stop following", icon="stop", _dom_classes=("mai-follow-button",)
        )
        self.follow_button.on_click(self._follow_clicked)
        self.message = html_widget(classes=("mai-status-message",))
        self.record_id = html_widget(classes=("mai-record-id",))
        self.table = html_widget(classes=("mai-record-table",))
        self.error_box = html_widget(classes=("mai-status-error",))
        self.endpoint_line = html_widget(classes=("mai-status-endpoint",))
        self._ended_at: float | None = None
        top = widgets.HBox(
            [self.badge, self.progress, self.elapsed, self.follow_button],
            layout=self._looks.layout(align_items="center", grid_gap="8px"),
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
            ],
            **{"_dom_classes": ("mai-status-view",), **kwargs},
        )
        controller.observe(self._changed, names=_WATCHED_TRAITS)
        self._view_closed = False
        self.refresh()

    @classmethod
    def for_image(cls, image_id: str, client: ImageClient | None = None) -> StatusView:
        """Follow an existing image live (``StatusView.for_image("<image id>")``)."""
        controller = RegistrationController(client)
        view = cls(controller)
        controller.follow(image_id)
        return view

    # -- rendering -------------------------------------------------------------------------

    def _changed(self, change: Mapping[str, Any]) -> None:
        self.refresh()

    def refresh(self) -> None:
        c = self.controller
        record, state = c.record, c.state
        self.state_line.value = f"<b>{html.escape(describe_state(c))}</b>"
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
        self.follow_button.description = "Stop following" if state == "watching" else "Follow again"
        self.follow_button.icon = "stop" if state == "watching" else "refresh"
        self.follow_button.disabled = c.closed
        self.message.value = self._message_html(record)
        self.record_id.value = (
            f"Image id: <code>{html.escape(record.id)}</code>" if record is not None else ""
        )
        self.table.value = record_table_html(record) if record is not None else ""
        self.error_box.value = error_html(c.error) if c.error is not None else ""
        self.endpoint_line.value = (
            f"<small>Talking to {html.escape(c.endpoint)}</small>" if c.endpoint else ""
        )

    def _message_html(self, record: ImageRecord | None) -> str:
        if record is None:
            return ""
        parts = []
        if record.already_registered:
            parts.append("This SWR image was already registered: showing the existing image.")
        if record.status_message:
            parts.append(f"Status message: {record.status_message}")
        return "<br>".join(html.escape(p) for p in parts)

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
        return f"{int(seconds // 60)} min {int(seconds % 60)} s" if seconds >= 60 else f"{seconds:.0f} s"

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
