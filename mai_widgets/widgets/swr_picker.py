"""``SwrPathCombobox``: the SWR path field, typed as before or picked namespace → repository → tag.

The text field stays the field (its value is the path the form registers); "Browse SWR" opens three
lists under it. They load lazily (organizations when first opened, repositories when an
organization is picked, tags when a repository is), page (repositories, ``REPO_PAGE`` at a time
with "More"), filter (repositories by SWR's own name filter, debounced; tags locally) and show
sizes and push times. Picking a tag writes its complete path into the text field.

Every SWR call runs on a worker (:class:`~mai_widgets.kernel.threads.BackgroundCalls`); a newer
listing cancels the older one, and ``close()`` cuts what is in flight.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..auth.config import translation_for
from ..errors import MaiWidgetsError
from ..i18n import Translation
from ..kernel.threads import BackgroundCalls, Debouncer
from ..transport.deadline import Cancel
from ..wire.format import size_text, time_text
from .status import SharedLooks

if TYPE_CHECKING:
    from ..services.paging import Page
    from ..services.swr import SwrClient, SwrNamespace, SwrRepository, SwrTag

__all__ = ["FILTER_DELAY", "REPO_PAGE", "TAG_PAGE", "SwrPathCombobox"]

REPO_PAGE = 50  # repositories per page (the manage API allows up to 100)
TAG_PAGE = 50  # tags shown before "More" (they come in one listing, filtered here)
FILTER_DELAY = 0.3  # seconds of typing pause before the repository filter asks SWR
_LIST_ROWS = 8


def _size(size: int, _tr: Translation) -> str:
    return size_text(size) or _tr("size unknown")


def _pushed(text: str, _tr: Translation) -> str:
    return time_text(text) or _tr("push time unknown")


def _column(title: str, placeholder: str, cls: str) -> tuple[widgets.Text, widgets.Select, widgets.HTML]:
    """A list's title, its filter field and the list itself (title and placeholder translated)."""
    # Sized by CSS (mai-swr-filter, mai-swr-list): a width of 100% plus ipywidgets' margins is
    # wider than the box, which then scrolls sideways and cuts the lists' right borders.
    search = widgets.Text(
        placeholder=placeholder,
        continuous_update=True,
        _dom_classes=("mai-swr-filter", f"{cls}-filter"),
    )
    listing = widgets.Select(
        options=[],
        rows=_LIST_ROWS,
        tooltip=title,  # the list's name (the bold title above it is no label)
        _dom_classes=("mai-swr-list", f"{cls}-list"),
    )
    return search, listing, widgets.HTML(value=f"<b>{html.escape(title)}</b>")


class SwrPathCombobox(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """The SWR path text field with "Browse SWR": pick organization → repository → tag."""

    def __init__(
        self,
        text: widgets.Text,
        swr: Callable[[], SwrClient],
        *,
        looks: SharedLooks | None = None,
    ) -> None:
        """``looks``: a form's shared Layout models, and its language."""
        self.text = text
        if looks is None:
            looks = SharedLooks(translation_for())
        self._tr = looks.tr
        self._swr_factory = swr
        self._swr: SwrClient | None = None
        self._calls = BackgroundCalls()
        self._tokens: dict[str, Cancel | None] = {}
        self._repo_filter_debouncer = Debouncer(FILTER_DELAY, self._reload_repositories, self._calls.writer)
        self.browse = widgets.ToggleButton(
            value=False,
            description=self._tr("Browse SWR"),
            icon="search",
            layout=widgets.Layout(width="auto"),
            _dom_classes=("mai-swr-browse",),
        )
        # The picker and its lists are made when Browse is first pressed (_build_lists): most
        # forms never open them, and each widget costs the kernel and the browser time while the
        # panel opens.
        self._picker: widgets.VBox | None = None
        # wraps: in a narrow side bar the button goes under the field, which keeps its width
        self._field = widgets.HBox(
            [text, self.browse], layout=widgets.Layout(align_items="center", flex_flow="row wrap")
        )
        super().__init__(
            [self._field],
            layout=looks.layout(),
            _dom_classes=("mai-swr-combobox",),
        )
        self._namespaces_loaded = False
        self._namespace = ""
        self._repo_page: Page[SwrRepository] | None = None
        self._repo_items: list[SwrRepository] = []
        self._all_tags: list[SwrTag] = []
        self._tags_shown = TAG_PAGE
        self._closed = False
        self.browse.observe(self._browse_toggled, names="value")

    # -- plumbing --------------------------------------------------------------------------

    def _client(self) -> SwrClient:
        if self._swr is None:
            self._swr = self._swr_factory()
        return self._swr

    def _start(self, kind: str, work: Callable[[SwrClient], Any], done: Callable[[Any], None]) -> None:
        """Run one listing on a worker; a newer listing of the same kind cancels this one."""
        old = self._tokens.get(kind)
        if old is not None:
            old.cancel()
        loading = html.escape(self._tr("Loading…"))
        self.message.value = f"<span class='mai-swr-loading'>{loading}</span>"
        try:
            swr = self._client()
        except MaiWidgetsError as error:
            self._failed(error)
            return

        def finished(result: Any) -> None:
            self.message.value = ""
            done(result)

        self._tokens[kind] = self._calls.start(
            lambda: work(swr), finished, self._failed, name=f"mai-swr-{kind}"
        )

    def _failed(self, error: MaiWidgetsError) -> None:
        _tr = self._tr
        said = (
            _tr(
                "Cannot list SWR: {reason} ({hint}). You can still type the path.",
                reason=_tr.text(error.message),
                hint=_tr.text(error.hint),
            )
            if error.hint
            else _tr(
                "Cannot list SWR: {reason}. You can still type the path.", reason=_tr.text(error.message)
            )
        )
        self.message.value = f"<span class='mai-check-warn'>⚠ {html.escape(said)}</span>"

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Start a pending filter now and block until every listing has ended (scripts and tests)."""
        self._repo_filter_debouncer.flush()
        return self._calls.wait_idle(timeout)

    @property
    def picker(self) -> widgets.VBox:
        """The box of the organization, repository and tag lists, under the field."""
        if self._picker is None:
            self._picker = widgets.VBox(
                layout=widgets.Layout(display="none", width="100%", max_width="42em"),
                _dom_classes=("mai-swr-picker",),
            )
            self.children = (self._field, self._picker)  # appended: the field's view stays
        return self._picker

    # -- organizations ---------------------------------------------------------------------

    def _build_lists(self) -> None:
        """The organization, repository and tag lists, made on the first Browse."""
        self.message = widgets.HTML(_dom_classes=("mai-swr-picker-message",))
        _tr = self._tr
        unused_filter, self.namespaces, ns_title = _column(
            _tr("Organization"), _tr("filter organizations"), "mai-swr-namespaces"
        )
        unused_filter.close()  # an account has few organizations: no filter
        self.repo_filter, self.repositories, repo_title = _column(
            _tr("Repository"), _tr("filter repositories"), "mai-swr-repositories"
        )
        self.tag_filter, self.tags, tag_title = _column(_tr("Tag"), _tr("filter tags"), "mai-swr-tags")
        self.more_repositories = widgets.Button(
            description=_tr("More"), _dom_classes=("mai-swr-more-repositories",)
        )
        self.more_tags = widgets.Button(description=_tr("More"), _dom_classes=("mai-swr-more-tags",))
        for more in (self.more_repositories, self.more_tags):
            more.layout.display = "none"
            more.layout.width = "auto"
        self.repo_count = widgets.HTML(_dom_classes=("mai-swr-repositories-count",))
        self.tag_count = widgets.HTML(_dom_classes=("mai-swr-tags-count",))
        # Columns stack: the side bar is narrow, and each list needs its width for sizes and dates.
        self.picker.children = [
            ns_title,
            self.namespaces,
            repo_title,
            self.repo_filter,
            self.repositories,
            widgets.HBox([self.repo_count, self.more_repositories]),
            tag_title,
            self.tag_filter,
            self.tags,
            widgets.HBox([self.tag_count, self.more_tags]),
            self.message,
        ]
        self.namespaces.observe(self._namespace_picked, names="value")
        self.repositories.observe(self._repository_picked, names="value")
        self.tags.observe(self._tag_picked, names="value")
        self.repo_filter.observe(lambda _: self._repo_filter_debouncer.trigger(), names="value")
        self.tag_filter.observe(lambda _: self._show_tags(reset=True), names="value")
        self.more_repositories.on_click(lambda _: self._load_repositories(more=True))
        self.more_tags.on_click(lambda _: self._more_tags())

    def _browse_toggled(self, change: Mapping[str, Any]) -> None:
        if change["new"] and not self.picker.children:
            self._build_lists()
        self.picker.layout.display = "" if change["new"] else "none"
        if change["new"] and not self._namespaces_loaded:
            self._namespaces_loaded = True
            self._start("namespaces", lambda swr: swr.namespaces(), self._show_namespaces)

    def _show_namespaces(self, found: list[SwrNamespace]) -> None:
        self.namespaces.options = [(n.name, n.name) for n in found]
        self.namespaces.value = None

    def _namespace_picked(self, change: Mapping[str, Any]) -> None:
        self._namespace = change["new"] or ""
        self.repositories.options = []
        self._clear_tags()
        if self._namespace:
            self._load_repositories(more=False)

    # -- repositories ----------------------------------------------------------------------

    def _reload_repositories(self) -> None:
        if self._namespace:
            self._load_repositories(more=False)

    def _load_repositories(self, *, more: bool) -> None:
        namespace = self._namespace
        wanted = self.repo_filter.value.strip() or None
        offset = len(self._repo_items) if more else 0

        def done(page: Page[SwrRepository]) -> None:
            if namespace != self._namespace:
                return
            self._repo_items = [*self._repo_items, *page.items] if more else list(page.items)
            self._repo_page = page
            picked = self.repositories.value
            self.repositories.options = [(self._repo_label(r), r.name) for r in self._repo_items]
            self.repositories.value = picked if picked in {r.name for r in self._repo_items} else None
            total = page.total if page.total >= 0 else len(self._repo_items)
            self.repo_count.value = html.escape(
                self._tr("{shown} of {total}", shown=len(self._repo_items), total=total)
            )
            self.more_repositories.layout.display = "" if page.has_more else "none"

        self._start(
            "repositories",
            lambda swr: swr.repositories_page(namespace, wanted, offset=offset, limit=REPO_PAGE),
            done,
        )

    def _repo_label(self, repo: SwrRepository) -> str:
        return f"{repo.name} · {_size(repo.size, self._tr)} · {_pushed(repo.updated_at, self._tr)}"

    def _repository_picked(self, change: Mapping[str, Any]) -> None:
        self._clear_tags()
        repository = change["new"]
        if not repository:
            return
        namespace = self._namespace

        def done(found: list[SwrTag]) -> None:
            if (namespace, repository) == (self._namespace, self.repositories.value):
                self._all_tags = found
                self._show_tags(reset=True)

        self._start("tags", lambda swr: swr.tags(namespace, repository), done)

    # -- tags ------------------------------------------------------------------------------

    def _clear_tags(self) -> None:
        self._all_tags = []
        self.tags.options = []
        self.tag_count.value = ""
        self.more_tags.layout.display = "none"

    def _filtered_tags(self) -> list[SwrTag]:
        wanted = self.tag_filter.value.strip().lower()
        return [t for t in self._all_tags if wanted in t.tag.lower()]

    def _show_tags(self, *, reset: bool) -> None:
        if reset:
            self._tags_shown = TAG_PAGE
        matching = self._filtered_tags()
        shown = matching[: self._tags_shown]
        self.tags.options = [(self._tag_label(t), t.tag) for t in shown]
        self.tags.value = None
        self.tag_count.value = (
            html.escape(self._tr("{shown} of {total}", shown=len(shown), total=len(matching)))
            if self._all_tags
            else ""
        )
        self.more_tags.layout.display = "" if len(matching) > len(shown) else "none"

    def _more_tags(self) -> None:
        self._tags_shown += TAG_PAGE
        self._show_tags(reset=False)

    def _tag_label(self, tag: SwrTag) -> str:
        multi = " · " + self._tr("multi-arch") if tag.manifest_list else ""
        return f"{tag.tag} · {_size(tag.size, self._tr)} · {_pushed(tag.updated, self._tr)}{multi}"

    def _tag_picked(self, change: Mapping[str, Any]) -> None:
        name = change["new"]
        tag = next((t for t in self._all_tags if t.tag == name), None)
        if tag is None:
            return
        # SWR's tag path is the complete pull path; build it from the repository if it is missing.
        repo = next((r for r in self._repo_items if r.name == tag.repository), None)
        path = tag.path or (f"{repo.path}:{tag.tag}" if repo is not None else "")
        if path:
            self.text.value = path

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self._repo_filter_debouncer.close()
        self._calls.close()  # cuts the calls in flight; the SWR client is the session's, left open
        super().close()
