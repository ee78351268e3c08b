"""``ImageBrowser``: the user's ModelArts images, a page at a time, filtered, sorted and followed.

The browser never loads every image up front: it asks for the API's first page (200) and the
next one only when the user presses "Load more". Every HTTP call runs on a worker thread
(:mod:`mai_widgets.kernel.threads`) and lands on the kernel's event loop, so the kernel stays
responsive. Images that are not terminal keep updating through one poll loop for the whole
list (:class:`ListFollower`: one thread, one GET per such image per round, with the configured
backoff), not one thread per row. Rows are a pool of widgets reused across listings, so a
new filter changes values instead of opening hundreds of new widget models.

Colours and spacing come from CSS classes (``mai-image-*``, ``mai-badge-*``) styled with
JupyterLab's ``--jp-*`` variables in ``labextension/style/base.raw.css``.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_button import ButtonStyle
from ipywidgets.widgets.widget_description import DescriptionStyle
from ipywidgets.widgets.widget_string import TextStyle

from ..auth.config import translation_for
from ..errors import (
    FieldProblem,
    MaiWidgetsError,
    NotFoundError,
    ValidationError,
)
from ..i18n import N_, Translation, translation
from ..kernel.controller import FIELD_LABELS, RegistrationController
from ..kernel.threads import CLOSE_JOIN_SECONDS, BackgroundCalls, Debouncer, MainLoopWriter
from ..transport.deadline import Cancel
from ..wire.contract import LIST_LIMIT_MAX, ImageRecord, ImageStatus, ListFilters
from ..wire.format import image_label, size_text, time_text
from .status import SharedLooks, StatusView, badge_class_html, error_html

if TYPE_CHECKING:
    from ..auth.config import MaiConfig
    from ..services.images import ImageClient
    from ..services.paging import Page

__all__ = [
    "LIST_TYPES",
    "NAME_DEBOUNCE_SECONDS",
    "PAGE_SIZE",
    "SORT_KEYS",
    "STATUS_CHOICES",
    "ImageBrowser",
    "ListFollower",
]

log = logging.getLogger(__name__)

PAGE_SIZE = LIST_LIMIT_MAX  # the API's largest page (200)
NAME_DEBOUNCE_SECONDS = 0.3  # typing pauses this long before the list asks the API again
READ_SPACING_SECONDS = 0.01  # between two status reads of one poll round (kernel responsiveness)
# The options' labels are marked (N_) and translated where shown; the values are the API's.
LIST_TYPES: tuple[tuple[str, str], ...] = (
    (N_("My images"), "DEDICATED"),
    (N_("Presets"), "BUILD_IN"),
    (N_("All: mine, then presets"), "ALL"),
)
# sort_key is free text on the service. The API reference's only example is camelCase
# (`updateTime`), so the times use that form; the other keys are the record's field names (u).
SORT_KEYS: tuple[tuple[str, str], ...] = (
    (N_("Created"), "createTime"),
    (N_("Updated"), "updateTime"),
    (N_("Name"), "name"),
    (N_("Status"), "status"),
    (N_("Size"), "size"),
)
SORT_DIRS: tuple[tuple[str, str], ...] = ((N_("Descending"), "DESC"), (N_("Ascending"), "ASC"))
# A single status is its own label (enum values stay English in every language).
STATUS_CHOICES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (N_("Any status"), ()),
    (N_("In progress (INIT, CREATING)"), ("INIT", "CREATING")),
    ("ACTIVE", ("ACTIVE",)),
    (N_("Failed (CREATE_FAILED, ERROR)"), ("CREATE_FAILED", "ERROR")),
    ("INIT", ("INIT",)),
    ("CREATING", ("CREATING",)),
    ("CREATE_FAILED", ("CREATE_FAILED",)),
    ("ERROR", ("ERROR",)),
)


def _options(_tr: Translation, choices: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """A drop-down's options with their labels in ``_tr``'s language (the values unchanged)."""
    return [(_tr.text(label), value) for label, value in choices]


def _both(_tr: Translation, items: Sequence[str]) -> str:
    """One or two items, joined with "and" in ``_tr``'s language."""
    if len(items) == 2:
        return _tr("{first} and {second}", first=items[0], second=items[1])
    return ", ".join(items)


def row_html(record: ImageRecord, tr: Translation | None = None) -> str:
    """One row's details: status badge, arch, resource categories, services, size, times; the
    captions in ``tr``'s language (English by default), the values as the service says them."""
    _tr = tr or translation()

    def cell(kind: str, title: str, text: str) -> str:
        return (
            f"<span class='mai-image-cell mai-image-{kind}' title='{html.escape(title)}'>"
            f"{html.escape(text)}</span>"
        )

    size = size_text(record.size_bytes) or "–"  # 0 until the image is built
    return (
        f"{badge_class_html(record.status)}"
        + cell("arch", _tr.text(FIELD_LABELS["arch"]), str(record.arch or "–"))
        + cell(
            "resources",
            _tr.text(FIELD_LABELS["resource_category"]),
            ", ".join(str(c) for c in record.resource_categories) or "–",
        )
        + cell(
            "services", _tr.text(FIELD_LABELS["services"]), ", ".join(str(s) for s in record.services) or "–"
        )
        + cell("size", _tr("Size"), size)
        + cell("created", _tr("Created"), _tr("created {time}", time=time_text(record.create_at) or "–"))
        + cell("updated", _tr("Updated"), _tr("updated {time}", time=time_text(record.update_at) or "–"))
    )


def _checked_type(value: object) -> str:
    text = str(value or "").strip().upper()
    if text not in {kind for _, kind in LIST_TYPES}:
        raise ValidationError([FieldProblem("type", "must be DEDICATED, BUILD_IN or ALL")])
    return text


def _checked_statuses(values: object) -> tuple[str, ...]:
    if values is None or values == "":
        return ()
    items = [values] if isinstance(values, str) else list(values) if isinstance(values, Iterable) else None
    if items is None:
        raise ValidationError([FieldProblem("status", "must be a status or a list of statuses")])
    out: list[str] = []
    for item in items:
        try:
            status = ImageStatus(str(item))
        except ValueError:
            raise ValidationError(
                [FieldProblem("status", f"{item!r} is not one of {', '.join(ImageStatus.choices())}")]
            ) from None
        if status.value not in out:
            out.append(status.value)
    return tuple(out)


# ---------------------------------------------------------------------------------------
# The poll loop


class ListFollower:
    """Follows every image of a list that is not terminal, with ONE thread.

    The loop is :class:`~mai_widgets.services.follow.Follow` (one GET per followed image per
    round, then the configured backoff; new ids restart the schedule); this runs it on a
    thread of its own while there is something to follow, and tells the kernel loop of
    changes only. An image that settles (or is gone) is dropped; with nothing left, the thread
    ends, and the next :meth:`follow` starts one again. :meth:`close` cuts the request in flight.
    """

    THREAD_NAME = "mai-widgets-list-follow"

    def __init__(
        self,
        client: ImageClient,
        on_record: Callable[[ImageRecord], None],
        writer: MainLoopWriter,
    ) -> None:
        from ..services.follow import Follow

        self._on_record = on_record
        self._writer = writer
        self._loop = Follow(
            client, on_record=self._heard, on_error=self._trouble, spacing=READ_SPACING_SECONDS
        )
        self._calls = BackgroundCalls(writer)

    @property
    def ids(self) -> tuple[str, ...]:
        return self._loop.ids

    @property
    def requests(self) -> int:
        """Status reads so far (for tests and the bench)."""
        return self._loop.requests

    @property
    def rounds(self) -> int:
        return self._loop.rounds

    @property
    def running(self) -> bool:
        """The poll thread is alive."""
        return self._calls.busy

    def follow(self, ids: Iterable[str]) -> None:
        """Follow exactly these images (the list's images that are not terminal)."""
        if self._loop.follow(ids):
            self._calls.start(self._loop.run, lambda _: None, self._failed, name=self.THREAD_NAME)

    def _heard(self, record: ImageRecord, previous: ImageRecord | None) -> None:
        shown = (str(record.status), record.update_at, record.status_message)
        if previous is None or shown != (str(previous.status), previous.update_at, previous.status_message):
            self._writer.post(lambda: self._on_record(record))  # the kernel loop hears of changes only

    @staticmethod
    def _trouble(image_id: str, error: MaiWidgetsError) -> bool:
        log.debug("list follow of %s: %s", image_id, error.message)
        return not isinstance(error, NotFoundError)  # a gone image is dropped; others retry next round

    @staticmethod
    def _failed(error: MaiWidgetsError) -> None:
        log.debug("list follow ended: %s", error.message)

    def close(self, timeout: float = CLOSE_JOIN_SECONDS) -> None:
        """Stop now (the request in flight is cut) and wait, ``timeout`` at most, for the thread."""
        self._loop.close()
        self._calls.close(timeout)

    def join(self, timeout: float) -> bool:
        """Wait for the thread to end (after :meth:`close`); True if it has."""
        return self._calls.wait_idle(timeout)


# ---------------------------------------------------------------------------------------
# Rows


class _Row:
    """One row: a button with name:tag (selects the image) and its details; reused across listings."""

    def __init__(self, looks: SharedLooks, on_click: Callable[[str], None]) -> None:
        self.image_id = ""
        self._tr = looks.tr
        self.button = widgets.Button(
            layout=looks.layout(width="auto", max_width="100%"),
            style=looks.style(ButtonStyle),
            _dom_classes=("mai-image-row-name",),
        )
        self.info = looks.html(classes=("mai-image-row-info",))
        self.box = widgets.HBox(
            [self.button, self.info],
            layout=looks.layout(align_items="center", flex_flow="row wrap", grid_gap="4px 8px"),
            _dom_classes=("mai-image-row",),
        )
        self.button.on_click(lambda _: on_click(self.image_id))

    def show(self, record: ImageRecord, selected: bool) -> None:
        self.image_id = record.id
        self.button.description = image_label(record)
        self.button.tooltip = self._tr("Show {image}", image=record.swr_path or record.id)
        self.info.value = row_html(record, self._tr)
        classes = ("mai-image-row", "mai-image-row-selected") if selected else ("mai-image-row",)
        if tuple(self.box._dom_classes) != classes:
            self.box._dom_classes = classes

    def close(self) -> None:
        for widget in (self.button, self.info, self.box):
            widget.close()


@dataclass
class _Stream:
    """One listing (DEDICATED or BUILD_IN) being paged through."""

    kind: str
    offset: int = 0
    total: int | None = None

    @property
    def done(self) -> bool:
        return self.total is not None and self.offset >= self.total


# ---------------------------------------------------------------------------------------
# The browser


class ImageBrowser(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """The user's ModelArts images (``type="DEDICATED"``), or the presets (``"BUILD_IN"``), or both
    (``"ALL"``: two listings, the user's first). Select a row to see its live status and actions.

    ``name`` filters with the API's fuzzy name match; ``status`` keeps only those statuses among
    the loaded rows; ``sort_key``/``sort_dir`` are the API's. ``autoload=False`` waits for the
    first :meth:`refresh` (the workbench loads when its Images tab is first opened).
    """

    def __init__(
        self,
        client: ImageClient | None = None,
        *,
        type: str = "DEDICATED",  # the API's name
        name: str = "",
        status: str | Sequence[str] | None = None,
        sort_key: str = "createTime",
        sort_dir: str = "DESC",
        config: MaiConfig | None = None,
        autoload: bool = True,
        language: str | None = None,
    ) -> None:
        kind = _checked_type(type)
        statuses = _checked_statuses(status)
        self._setup_error: MaiWidgetsError | None = None
        self._client: ImageClient | None = client
        if client is None:
            try:
                from ..services.images import ImageClient
                from ..services.session import Session

                # the kernel's session: closing the browser cuts its own calls, not the session
                self._client = Session.for_config(config).client(ImageClient)
            except MaiWidgetsError as error:
                self._setup_error = error
        self._writer = MainLoopWriter()
        self._calls = BackgroundCalls(self._writer)
        self._follower: ListFollower | None = (
            ListFollower(self._client, self._poll_answer, self._writer) if self._client is not None else None
        )
        self.debouncer = Debouncer(NAME_DEBOUNCE_SECONDS, self._name_settled, self._writer)
        self._streams: list[_Stream] = []
        self._records: list[ImageRecord] = []
        self._positions: dict[str, int] = {}  # id -> index in the visible rows
        self._generation = 0
        self._load_token: Cancel | None = None
        self.loading = False
        self.loaded = False  # a first page has been asked for
        self.error: MaiWidgetsError | None = self._setup_error
        self.selected_id: str | None = None
        self.detail: StatusView | None = None
        self._pool: list[_Row] = []
        self._closed = False
        # Called with a followed image's record when it reaches a terminal status.
        self.on_settled: list[Callable[[ImageRecord], None]] = []
        # Called with the status view of each image opened under the list.
        self.on_detail: list[Callable[[StatusView], None]] = []

        looks = self._looks = SharedLooks(
            translation_for(self._client.config if self._client is not None else config, language=language)
        )
        self._tr = looks.tr
        describe = looks.style(DescriptionStyle, description_width="initial")
        self.type_dropdown = widgets.Dropdown(
            options=_options(self._tr, LIST_TYPES),
            value=kind,
            description=self._tr("Show"),
            style=describe,
            layout=looks.layout(width="auto"),
            _dom_classes=("mai-browser-type",),
        )
        self.name_text = widgets.Text(
            value=name,
            placeholder=self._tr("Filter by name"),
            description=self._tr("Name"),
            continuous_update=True,
            style=looks.style(TextStyle, description_width="initial"),
            layout=looks.layout(width="auto", min_width="10em"),
            _dom_classes=("mai-browser-name",),
        )
        status_options = _options(self._tr, STATUS_CHOICES)
        if statuses not in {value for _, value in STATUS_CHOICES}:
            status_options.append((", ".join(statuses), statuses))
        self.status_dropdown = widgets.Dropdown(
            options=status_options,
            value=statuses,
            description=self._tr("Status"),
            style=describe,
            layout=looks.layout(width="auto"),
            _dom_classes=("mai-browser-status",),
        )
        self.sort_dropdown = widgets.Dropdown(
            options=_options(self._tr, SORT_KEYS),
            value=sort_key if sort_key in {k for _, k in SORT_KEYS} else SORT_KEYS[0][1],
            description=self._tr("Sort by"),
            style=describe,
            layout=looks.layout(width="auto"),
            _dom_classes=("mai-browser-sort",),
        )
        self.dir_dropdown = widgets.Dropdown(
            options=_options(self._tr, SORT_DIRS),
            value="ASC" if str(sort_dir).upper() == "ASC" else "DESC",
            tooltip=self._tr("Sort direction"),  # its name (it has no label)
            style=describe,
            layout=looks.layout(width="auto"),
            _dom_classes=("mai-browser-sort-dir",),
        )
        self.refresh_button = widgets.Button(
            description=self._tr("Refresh"), icon="refresh", _dom_classes=("mai-browser-refresh",)
        )
        self.summary = looks.html(classes=("mai-browser-summary",))
        self.error_box = looks.html(classes=("mai-browser-error",))
        self.rows_box = widgets.VBox([], layout=looks.layout(), _dom_classes=("mai-image-rows",))
        self.more_button = widgets.Button(
            description=self._tr("Load more"), icon="angle-double-down", _dom_classes=("mai-browser-more",)
        )
        self.detail_box = widgets.VBox([], layout=looks.layout(), _dom_classes=("mai-image-detail",))
        # An empty list says what to do next: register an image (where a Register tab listens on
        # ``on_register``), or look at the presets. Own layouts: their display changes.
        self.on_register: list[Callable[[], None]] = []
        self.register_button = widgets.Button(
            description=self._tr("Register an image"),
            icon="plus",
            layout=widgets.Layout(width="auto"),
            _dom_classes=("mai-browser-register",),
        )
        self.presets_button = widgets.Button(
            description=self._tr("Show the presets"),
            icon="list",
            layout=widgets.Layout(width="auto"),
            _dom_classes=("mai-browser-presets",),
        )
        self.empty_box = widgets.HBox(
            [self.register_button, self.presets_button],
            layout=widgets.Layout(display="none", flex_flow="row wrap", grid_gap="4px 8px"),
            _dom_classes=("mai-browser-empty",),
        )
        toolbar = widgets.HBox(
            [
                self.type_dropdown,
                self.name_text,
                self.status_dropdown,
                self.sort_dropdown,
                self.dir_dropdown,
                self.refresh_button,
            ],
            layout=looks.layout(flex_flow="row wrap", grid_gap="4px 8px", align_items="center"),
            _dom_classes=("mai-browser-toolbar",),
        )
        super().__init__(
            [
                toolbar,
                self.summary,
                self.empty_box,
                self.error_box,
                self.rows_box,
                self.more_button,
                self.detail_box,
            ],
            _dom_classes=("mai-image-browser",),
        )
        self.type_dropdown.observe(lambda _: self.refresh(), names="value")
        self.sort_dropdown.observe(lambda _: self.refresh(), names="value")
        self.dir_dropdown.observe(lambda _: self.refresh(), names="value")
        self.name_text.observe(lambda _: self.debouncer.trigger(), names="value")
        self.status_dropdown.observe(lambda _: self._render(), names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.more_button.on_click(lambda _: self.load_more())
        self.register_button.on_click(lambda _: self._register_wanted())
        self.presets_button.on_click(lambda _: self.show_presets())
        self._render()
        if autoload:
            self.refresh()

    # -- what is shown ---------------------------------------------------------------------

    @property
    def client(self) -> ImageClient | None:
        return self._client

    @property
    def follower(self) -> ListFollower | None:
        return self._follower

    @property
    def type(self) -> str:
        return str(self.type_dropdown.value)

    @property
    def statuses(self) -> tuple[str, ...]:
        return tuple(self.status_dropdown.value)

    @property
    def records(self) -> list[ImageRecord]:
        """Every loaded record, in the service's order (the status filter not applied)."""
        return list(self._records)

    @property
    def visible_records(self) -> list[ImageRecord]:
        """The loaded records the status filter keeps: the rows shown."""
        wanted = set(self.statuses)
        if not wanted:
            return list(self._records)
        return [r for r in self._records if str(r.status) in wanted]

    @property
    def total(self) -> int | None:
        """How many images the service has for these filters (``None`` until known)."""
        totals = [s.total for s in self._streams]
        return None if not totals or any(t is None for t in totals) else sum(t for t in totals if t)

    @property
    def has_more(self) -> bool:
        return any(not s.done for s in self._streams)

    @property
    def rows(self) -> list[_Row]:
        """The row widgets shown, in order."""
        return self._pool[: len(self.rows_box.children)]

    @property
    def empty(self) -> bool:
        """Listed, and there is nothing to show at all: no image, no name typed, nothing failed."""
        return (
            self.loaded
            and not self.loading
            and self.error is None
            and not self._records
            and self.total == 0
            and not str(self.name_text.value).strip()
        )

    def show_presets(self) -> None:
        """List the presets (the type filter's BUILD_IN) instead."""
        self.type_dropdown.value = "BUILD_IN"

    def _register_wanted(self) -> None:
        for handler in list(self.on_register):
            handler()

    def filters(self) -> ListFilters:
        """The API filters the listing sends (the status filter is applied here, not sent)."""
        name = str(self.name_text.value).strip()
        return ListFilters.create(
            name=name or None,
            name_fuzzy_match=True if name else None,
            sort_key=self.sort_dropdown.value,
            sort_dir=self.dir_dropdown.value,
        )

    # -- loading ---------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Reload from the first page with the current filters (the previous load is cancelled)."""
        if self._closed:
            return False
        self.debouncer.cancel()  # this listing already uses the name typed so far
        kinds = ("DEDICATED", "BUILD_IN") if self.type == "ALL" else (self.type,)
        self._streams = [_Stream(kind) for kind in kinds]
        self._records = []
        self.loaded = True
        return self._load(first=True)

    def load_more(self) -> bool:
        """Ask for the next page (200 more). False when everything is loaded or a load runs."""
        if self._closed or self.loading or not self.has_more:
            return False
        return self._load(first=False)

    def _load(self, *, first: bool) -> bool:
        client = self._client
        if client is None:
            self._render()
            return False
        try:
            filters = self.filters()
        except MaiWidgetsError as error:
            self.error = error
            self._render()
            return False
        if self._load_token is not None:
            self._load_token.cancel()  # a newer listing replaces it
        self._generation += 1
        generation = self._generation
        wanted = [(s.kind, s.offset) for s in self._streams if not s.done]
        self.loading = True
        self.error = None
        self._render()

        def fetch() -> list[tuple[str, Page[ImageRecord]]]:
            pages: list[tuple[str, Page[ImageRecord]]] = []
            rows = 0
            for kind, offset in wanted:
                page = client.page(filters, offset=offset, limit=PAGE_SIZE, type=kind)
                pages.append((kind, page))
                rows += len(page.items)
                # ALL: the presets follow the user's images, on the same page once those end
                if page.has_more or rows >= PAGE_SIZE:
                    break
            return pages

        def done(pages: list[tuple[str, Page[ImageRecord]]]) -> None:
            if generation != self._generation or self._closed:
                return
            self.loading = False
            known = {r.id for r in self._records}
            for kind, page in pages:
                stream = next(s for s in self._streams if s.kind == kind)
                stream.offset = page.offset + len(page.items)
                # a page shorter than the total promised, and empty: the listing ended early;
                # without a total, the listing ends at a short page (the one page rule)
                ended = not page.items or (page.total < 0 and not page.has_more)
                stream.total = stream.offset if ended else page.total if page.total >= 0 else None
                for record in page.items:
                    if record.id not in known:  # an insert between pages shifts records by one
                        known.add(record.id)
                        self._records.append(record)
            self._render()

        def failed(error: MaiWidgetsError) -> None:
            if generation != self._generation or self._closed:
                return
            self.loading = False
            self.error = error
            self._render()

        self._load_token = self._calls.start(fetch, done, failed, name="mai-widgets-list")
        return self._load_token is not None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no listing or action runs and pending changes are applied (scripts, tests)."""
        ok = self._calls.wait_idle(timeout)
        if self.detail is not None and self.detail.actions is not None:
            ok = self.detail.actions.wait_idle(timeout) and ok
        self._writer.drain_here()
        return ok

    # -- rendering -------------------------------------------------------------------------

    def _render(self) -> None:
        if self._closed:
            return
        visible = self.visible_records
        while len(self._pool) < len(visible):
            self._pool.append(_Row(self._looks, self._row_clicked))
        self._positions = {}
        for index, record in enumerate(visible):
            self._pool[index].show(record, record.id == self.selected_id)
            self._positions[record.id] = index
        shown = tuple(row.box for row in self._pool[: len(visible)])
        if tuple(self.rows_box.children) != shown:
            self.rows_box.children = shown
        self.summary.value = self._summary_html(len(visible))
        empty = self.empty
        self.empty_box.layout.display = "" if empty else "none"
        if empty:
            self.register_button.layout.display = "" if self.on_register else "none"
            self.presets_button.layout.display = "" if self.type == "DEDICATED" else "none"
        self.error_box.value = error_html(self.error, self._tr) if self.error is not None else ""
        self.more_button.layout.display = "" if self.has_more or self.loading else "none"
        self.more_button.disabled = self.loading or not self.has_more
        self.more_button.description = (
            self._tr("Loading…") if self.loading else self._tr("Load {count} more", count=PAGE_SIZE)
        )
        self._follow_unsettled()

    def _summary_html(self, shown: int) -> str:
        _tr = self._tr
        if self._client is None:
            return _tr("The image list needs the settings named below.")
        if not self.loaded:
            return _tr("Not loaded yet.")
        loaded = len(self._records)
        if self.loading and not loaded:
            return _tr("Loading…")
        if self.empty:
            return self._empty_html()
        parts: list[str] = []
        later: list[str] = []
        for stream in self._streams:
            if stream.total is None:
                later.append(_tr("images") if stream.kind == "DEDICATED" else _tr("presets"))
            elif stream.kind == "DEDICATED":
                parts.append(
                    _tr.plural(
                        "your {count} image",
                        "your {count} images",
                        stream.total,
                        count=format(stream.total, ","),
                    )
                )
            else:
                parts.append(
                    _tr.plural(
                        "{count} preset", "{count} presets", stream.total, count=format(stream.total, ",")
                    )
                )
        name = str(self.name_text.value).strip()
        if name:
            text = _tr(
                "Loaded {loaded} of {total} matching “{name}”",
                loaded=format(loaded, ","),
                total=_both(_tr, parts),
                name=html.escape(name),
            )
        else:
            text = _tr("Loaded {loaded} of {total}", loaded=format(loaded, ","), total=_both(_tr, parts))
        if later:
            text = _tr("{text}; {later} follow", text=text, later=_both(_tr, later))
        if self.statuses:
            # The list API has no status filter: the status is filtered here, on the loaded rows.
            statuses = html.escape(
                reduce(
                    lambda first, second: _tr("{first} or {second}", first=first, second=second),
                    self.statuses,
                )
            )
            text = _tr(
                "{count} {statuses} shown. {text}", count=format(shown, ","), statuses=statuses, text=text
            )
            if self.has_more:
                text = _tr("{text}; load more to search further", text=text)
        return _tr("{text}.", text=text)

    def _empty_html(self) -> str:
        """What an empty list says: what to do next, not "Loaded 0 of your 0 images"."""
        _tr = self._tr
        if self.type == "BUILD_IN":
            return _tr(
                "ModelArts lists no presets here. Your own images are under “{mine}”.", mine=_tr("My images")
            )
        if self.on_register:
            if self.type == "DEDICATED":
                return _tr(
                    "You have no images yet: register one, "
                    "or start from one of the presets ModelArts provides."
                )
            return _tr("You have no images yet, and ModelArts lists no presets here: register one.")
        magic = "<code>%register_image</code>"
        if self.type == "DEDICATED":
            return _tr(
                "You have no images yet: register one with {magic} or the side panel, "
                "or start from one of the presets ModelArts provides.",
                magic=magic,
            )
        return _tr(
            "You have no images yet, and ModelArts lists no presets here: register one with "
            "{magic} or the side panel.",
            magic=magic,
        )

    def _follow_unsettled(self) -> None:
        if self._follower is not None:
            self._follower.follow(r.id for r in self._records if not r.is_terminal)

    def _poll_answer(self, record: ImageRecord) -> None:
        self._followed(record)

    def _tell_settled(self, record: ImageRecord) -> None:
        for handler in list(self.on_settled):
            handler(record)

    def _followed(self, record: ImageRecord) -> bool:
        """A fresh record from the poll loop or the detail view: update its row in place.
        True when this is where the list saw it settle (``on_settled`` was told)."""
        if self._closed:
            return False
        index = next((i for i, known in enumerate(self._records) if known.id == record.id), None)
        if index is None:
            return False
        old = self._records[index]
        if record.name is None:  # a short record (a 204 delete): keep what the list knew
            record = old.with_changes(status=record.status)
        self._records[index] = record
        settled = record.settles(old)
        if settled:
            self._tell_settled(record)
        if record.status == ImageStatus.DELETED:
            self._forget(record.id)
            return settled
        if self.statuses and str(old.status) != str(record.status):
            self._render()  # it may enter or leave the filter
            return settled
        position = self._positions.get(record.id)
        if position is not None:
            self._pool[position].show(record, record.id == self.selected_id)
        return settled

    def _forget(self, image_id: str) -> None:
        """A deleted image leaves the list; the next page starts one record earlier."""
        before = len(self._records)
        self._records = [r for r in self._records if r.id != image_id]
        if len(self._records) < before:
            for stream in self._streams:
                if stream.kind == "DEDICATED" and stream.total is not None:
                    stream.offset = max(0, stream.offset - 1)
                    stream.total = max(0, stream.total - 1)
        self._render()

    # -- selection -------------------------------------------------------------------------

    def select(self, image_id: str | None) -> StatusView | None:
        """Show an image's live status and its actions below the list (``None``: hide it)."""
        if self._closed or image_id == self.selected_id:
            return self.detail
        self._close_detail()
        self.selected_id = image_id
        if image_id and self._client is not None:
            controller = RegistrationController(self._client)
            view = StatusView(controller, actions=True, language=self._tr.language)
            assert view.actions is not None
            view.actions.on_deleted.append(self._deleted)
            view.actions.on_registered.append(self._registered_again)
            controller.observe(self._detail_record, names="record")
            self.detail = view
            self.detail_box.children = (view,)
            controller.follow(image_id)
            for handler in list(self.on_detail):
                handler(view)
        for row in self.rows:
            selected = row.image_id == self.selected_id
            classes = ("mai-image-row", "mai-image-row-selected") if selected else ("mai-image-row",)
            if tuple(row.box._dom_classes) != classes:
                row.box._dom_classes = classes
        return self.detail

    def _row_clicked(self, image_id: str) -> None:
        self.select(image_id)

    def _name_settled(self) -> None:
        self.refresh()

    def _detail_record(self, change: Mapping[str, Any]) -> None:
        record, old = change["new"], change["old"]
        if isinstance(record, ImageRecord):
            told = self._followed(record)
            # The detail view saw it settle (a "Register again" is followed there from its first
            # answer), even when the list, reloaded later, only ever saw it terminal.
            if not told and record.settles(old):
                self._tell_settled(record)

    def _deleted(self, record: ImageRecord) -> None:
        self._forget(record.id)

    def _registered_again(self, record: ImageRecord) -> None:
        self.selected_id = record.id  # the detail view follows the new record
        self.refresh()

    def _close_detail(self) -> None:
        view = self.detail
        self.detail = None
        if view is not None:
            view.controller.unobserve(self._detail_record, names="record")
            self.detail_box.children = ()
            view.close()

    def registered(self, record: ImageRecord) -> None:
        """Tell the browser about a record registered elsewhere (the Register tab): a new image
        reloads the list; a known one updates its row."""
        if any(r.id == record.id for r in self._records):
            self._followed(record)
        elif self.loaded:
            self.refresh()

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every call and the poll loop (HTTP in flight is cut) and close the widgets."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        # Cancel everything first (HTTP in flight is cut), then wait, a second at most in all.
        end = time.monotonic() + CLOSE_JOIN_SECONDS
        self._calls.close(timeout=0.0)
        if self._follower is not None:
            self._follower.close(timeout=0.0)
        self.debouncer.close(timeout=0.0)
        self._close_detail()
        self._calls.wait_idle(max(0.0, end - time.monotonic()))
        if self._follower is not None:
            self._follower.join(max(0.0, end - time.monotonic()))
        for row in self._pool:
            row.close()
        for widget in (
            self.type_dropdown,
            self.name_text,
            self.status_dropdown,
            self.sort_dropdown,
            self.dir_dropdown,
            self.refresh_button,
            self.register_button,
            self.presets_button,
            self.empty_box,
            self.summary,
            self.error_box,
            self.rows_box,
            self.more_button,
            self.detail_box,
            *self.children,
        ):
            widget.close()
        self._looks.close()
        super().close()
