"""Preflight: catch the wrong image before it is registered.

:func:`check` looks at an SWR path the way ModelArts will use it and returns one :class:`Check`
per question, each a sentence: does the image exist (else the nearest tags), does it run on the
chosen arch, does a notebook image run as ``ma-user`` (uid 1000, gid 100), is it registered
already. Credentials that cannot read SWR make one plain warning, never an exception: the user can
still register by path. A deadline bounds the whole check.

Checks of many paths at once (a batch's plan) share a :class:`SharedReads`: each repository's tag
list and each organization's repository list is read once, and the first registry read of a
repository goes alone, so the others find its pull token instead of each asking for one.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import (
    AuthenticationError,
    ConfigError,
    MaiWidgetsError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    ThrottledError,
    TransportError,
)
from ..i18n import Msg
from ..transport.deadline import Deadline, call_scope, current_scope
from ..wire.contract import (
    FAILED_STATUSES,
    Arch,
    Service,
    complete_swr_path,
    split_swr_path,
    swr_path_problem,
)
from ..wire.format import size_text

if TYPE_CHECKING:
    from .images import ImageClient
    from .swr import ImageInspection, SwrClient, SwrRepository, SwrTag

__all__ = [
    "DEFAULT_TIMEOUT",
    "NOTEBOOK_USER_RULE",
    "Check",
    "Outcome",
    "SharedReads",
    "check",
    "runs_as_ma_user",
]

Outcome = Literal["pass", "warn", "fail"]
DEFAULT_TIMEOUT = 10.0
# ModelArts' custom notebook images (its "custom image" specification).
NOTEBOOK_USER_RULE = Msg("ModelArts notebook images must run as ma-user (uid 1000, gid 100)")
_MA_USER_NAMES = frozenset({"ma-user", "1000"})
_MA_GROUP_NAMES = frozenset({"ma-group", "100"})


@dataclass(frozen=True)
class Check:
    """One preflight question: its ``name``, ``outcome`` and a one-sentence ``message`` (a
    :class:`~mai_widgets.i18n.Msg`: English as a str, translated where a view shows it).

    ``data`` carries what a UI can act on: ``suggestions`` (existing paths), ``matching_arch``,
    ``platforms``, ``image_id``.
    """

    name: str
    outcome: Outcome
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)


class _Slot:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: MaiWidgetsError | None = None


def _wait(event: threading.Event) -> bool:
    """Wait for ``event`` within the calling check's deadline; False when it did not come."""
    return event.wait(current_scope().deadline.remaining())


class SharedReads:
    """The SWR reads that the checks of one batch share (made per plan, so nothing goes stale).

    A repository's tags and an organization's repositories are asked once; the checks that want
    them meanwhile wait for that answer (or its error: not found, no access). An answer that
    may be better on a second try (a timeout, a 5xx, a 429, a cancelled call) is not kept: each waiting
    check then asks for itself. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[tuple[str, ...], _Slot] = {}
        self._gates: dict[tuple[str, str], threading.Event] = {}

    def _once(self, key: tuple[str, ...], read: Callable[[], Any]) -> Any:
        with self._lock:
            slot = self._slots.get(key)
            first = slot is None
            if slot is None:
                slot = self._slots[key] = _Slot()
        if not first:
            if _wait(slot.done) and (slot.error is None or not self._passing(slot.error)):
                if slot.error is not None:
                    raise slot.error
                return slot.value
            return read()  # the first one's answer is not worth sharing (or did not come in time)
        try:
            slot.value = read()
        except MaiWidgetsError as error:
            slot.error = error
            raise
        finally:
            slot.done.set()
        return slot.value

    @staticmethod
    def _passing(error: MaiWidgetsError) -> bool:
        return isinstance(error, (TransportError, ServerError, ThrottledError))

    def tags(self, swr: SwrClient, namespace: str, name: str) -> list[SwrTag]:
        result: list[SwrTag] = self._once(("tags", namespace, name), lambda: swr.tags(namespace, name))
        return result

    def repositories(self, swr: SwrClient, namespace: str) -> list[SwrRepository]:
        result: list[SwrRepository] = self._once(("repos", namespace), lambda: swr.repositories(namespace))
        return result

    def _claim(self, namespace: str, name: str) -> tuple[threading.Event, bool]:
        """The repository's gate, and whether this call is the first (which opens it later)."""
        with self._lock:
            gate = self._gates.get((namespace, name))
            if gate is not None:
                return gate, False
            gate = self._gates[(namespace, name)] = threading.Event()
            return gate, True

    @contextlib.contextmanager
    def first_read(self, namespace: str, name: str) -> Iterator[None]:
        """The first registry read of ``namespace/name`` runs alone: the others wait for it (within
        their deadline), then find the repository's pull token instead of asking for their own."""
        gate, first = self._claim(namespace, name)
        if not first:
            _wait(gate)
            yield
            return
        try:
            yield
        finally:
            gate.set()

    def sign_in_first(
        self, swr: SwrClient, swr_path: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> Callable[[], None] | None:
        """Claim the first registry read of ``swr_path``'s repository now, for the returned call:
        it asks for the repository's pull token (the registry's ping, ``GET /v2/``, with that
        scope), then lets the checks waiting to read the repository go. Run it while their tag
        lists are read, and the token is there when they need it. ``None``: claimed already, or
        not a complete path. A failure is left to the checks, which then ask and report it."""
        parts = split_swr_path(complete_swr_path(swr_path, swr.config.region))
        if parts is None or "registry" not in parts:
            return None
        gate, first = self._claim(parts["namespace"], parts["name"])
        if not first:
            return None
        registry = swr.registry(parts["registry"])
        scope = f"repository:{parts['namespace']}/{parts['name']}:pull"

        def sign_in() -> None:
            try:
                with call_scope(Deadline(timeout)):
                    registry.request("GET", "/v2/", scope=scope)
            except MaiWidgetsError:
                pass  # the checks ask again, and say what went wrong
            finally:
                gate.set()

        return sign_in


def runs_as_ma_user(user: str) -> bool:
    """``ma-user``, ``1000``, ``1000:100``, ``ma-user:ma-group``...: uid 1000, gid 100 if given."""
    name, _, group = user.strip().partition(":")
    return name in _MA_USER_NAMES and (not group or group in _MA_GROUP_NAMES)


def _nearest(wanted: str, choices: Iterable[str], n: int = 3) -> list[str]:
    import difflib  # only when a check fails: not on the side panel's way to its form

    pool = list(dict.fromkeys(choices))
    return difflib.get_close_matches(wanted, pool, n=n, cutoff=0.4) or pool[:n]


def _no_access(namespace: str, what: str, error: MaiWidgetsError) -> Check:
    if isinstance(error, PermissionDeniedError):
        reason: str = Msg(
            "these credentials have no read access to the SWR organization {namespace}", namespace=namespace
        )
    elif isinstance(error, AuthenticationError):
        reason = Msg("SWR did not accept these credentials")
    else:  # unreachable, out of time, or not configured: the error says which
        reason = error.message
    return Check(
        "access",
        "warn",
        Msg(
            "Cannot check {what} in SWR: {reason}; you can still register by path.", what=what, reason=reason
        ),
        {"hint": error.hint} if error.hint else {},
    )


def _services(services: Iterable[Service | str] | None) -> set[str]:
    if services is None:
        return set()
    if isinstance(services, (str, Service)):
        services = [services]
    return {str(s.value if isinstance(s, Service) else s).strip().upper() for s in services}


def _exists(image: ImageInspection, path: str) -> Check:
    size = size_text(image.size) or Msg("size unknown")
    message = (
        Msg("The image exists in SWR ({size}, pushed {pushed}).", size=size, pushed=image.pushed)
        if image.pushed
        else Msg("The image exists in SWR ({size}).", size=size)
    )
    return Check(
        "exists",
        "pass",
        message,
        {"digest": image.digest, "size": image.size, "pushed": image.pushed, "swr_path": path},
    )


def _architecture(image: ImageInspection, arch: Arch | None) -> Check:
    platforms = [str(p) for p in image.platforms]
    listed = ", ".join(platforms) or Msg("no platform")
    data: dict[str, Any] = {"platforms": platforms}
    kind = (
        Msg("a manifest list for {platforms}", platforms=listed)
        if image.is_multi_arch
        else Msg("built for {platforms}", platforms=listed)
    )
    if arch is None:
        return Check("architecture", "pass", Msg("The image is {kind}.", kind=kind), data)
    if image.supports(arch):
        return Check(
            "architecture",
            "pass",
            Msg("The image is {kind}, which runs on {arch}.", kind=kind, arch=arch.value),
            data,
        )
    matching = image.arches[0] if image.arches else None
    if matching is None:
        return Check(
            "architecture",
            "warn",
            Msg(
                "The image is {kind}, which ModelArts cannot run as {arch} or any other arch.",
                kind=kind,
                arch=arch.value,
            ),
            data,
        )
    data["matching_arch"] = matching.value
    return Check(
        "architecture",
        "warn",
        Msg(
            "The image is {kind}, not {arch}: choose {matching}, "
            "or it will fail at launch with 'exec format error'.",
            kind=kind,
            arch=arch.value,
            matching=matching.value,
        ),
        data,
    )


def _user(image: ImageInspection) -> Check:
    user = image.user or ""
    if runs_as_ma_user(user):
        return Check(
            "user",
            "pass",
            Msg("The image runs as {user}, as ModelArts notebooks require.", user=user),
            {"user": user},
        )
    shown = user or Msg("root (no USER set)")
    return Check(
        "user",
        "warn",
        Msg("The image runs as {user}, but {rule}.", user=shown, rule=NOTEBOOK_USER_RULE),
        {"user": user, "required": "ma-user (uid 1000, gid 100)"},
    )


def _registered(client: ImageClient, path: str) -> Check:
    try:
        record = client.find_registered(path)
    except MaiWidgetsError as error:
        return Check(
            "registered",
            "warn",
            Msg("Cannot tell whether it is registered already ({reason}).", reason=error.message),
        )
    if record is None:
        return Check("registered", "pass", Msg("It is not registered in ModelArts yet."))
    if record.status in FAILED_STATUSES:
        message = Msg(
            "It is already registered as image {id}, which ended {status}; "
            "Register offers to delete that record and register it again.",
            id=record.id,
            status=str(record.status),
        )
    elif record.status:
        message = Msg(
            "It is already registered as image {id} ({status}); registering again returns that image.",
            id=record.id,
            status=str(record.status),
        )
    else:
        message = Msg(
            "It is already registered as image {id} (status unknown); registering again returns that image.",
            id=record.id,
        )
    return Check("registered", "warn", message, {"image_id": record.id})


def _missing_tag(path: str, namespace: str, name: str, tag: str, tags: list[SwrTag]) -> Check:
    nearest = _nearest(tag, [t.tag for t in tags])
    base = path.rsplit(":", 1)[0]
    where = f"{namespace}/{name}"
    message = (
        Msg(
            "There is no tag {tag} in {repository} in SWR. Nearest tags: {tags}.",
            tag=tag,
            repository=where,
            tags=", ".join(nearest),
        )
        if nearest
        else Msg(
            "There is no tag {tag} in {repository} in SWR. The repository has no tags.",
            tag=tag,
            repository=where,
        )
    )
    return Check(
        "exists",
        "fail",
        message,
        {"suggestions": [f"{base}:{t}" for t in nearest]},
    )


def _missing_repository(
    swr: SwrClient, namespace: str, name: str, tag: str, shared: SharedReads | None
) -> Check:
    try:
        repositories = shared.repositories(swr, namespace) if shared else swr.repositories(namespace)
    except MaiWidgetsError:
        repositories = []
    nearest = _nearest(name, [r.name for r in repositories]) if repositories else []
    by_name = {r.name: r for r in repositories}
    # each suggestion is a complete path: the repository with its newest-listed tag (or this tag)
    suggestions = [f"{by_name[n].path}:{by_name[n].tags[0] if by_name[n].tags else tag}" for n in nearest]
    where = f"{namespace}/{name}"
    message = (
        Msg(
            "There is no repository {repository} in SWR. Nearest: {nearest}.",
            repository=where,
            nearest=", ".join(f"{namespace}/{n}" for n in nearest),
        )
        if nearest
        else Msg("There is no repository {repository} in SWR.", repository=where)
    )
    return Check(
        "exists",
        "fail",
        message,
        {"suggestions": suggestions},
    )


def check(
    swr_path: str,
    arch: Arch | str | None = Arch.X86_64,
    services: Iterable[Service | str] | None = None,
    client: ImageClient | None = None,
    swr: SwrClient | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    registered: bool = True,
    shared: SharedReads | None = None,
) -> list[Check]:
    """The preflight checks of ``swr_path`` for registering with ``arch`` and ``services``.

    ``client`` (an ImageClient) and ``swr`` (an SwrClient) default to ones built from the
    configuration, sharing one sign-in. Never raises for what SWR or ModelArts answer; bad
    arguments raise :class:`~mai_widgets.errors.ValidationError`. ``registered=False`` leaves
    out the "registered already" look-up (a batch answers it for every entry with one listing);
    ``shared`` shares SWR reads with the other checks of a batch.
    """
    from ..errors import FieldProblem, ValidationError
    from .images import ImageClient
    from .session import Session
    from .swr import SwrClient

    chosen_arch = Arch(str(arch.value if isinstance(arch, Arch) else arch).upper()) if arch else None
    wanted_services = _services(services)
    if swr is None:
        swr = (client.shared if client is not None else Session.for_config()).client(SwrClient)
    client = client if client is not None else swr.shared.client(ImageClient)
    text = swr_path.strip() if isinstance(swr_path, str) else ""
    path = complete_swr_path(text, swr.config.region)
    parts = split_swr_path(path) if text else None
    if parts is None:
        raise ValidationError(
            [FieldProblem("swr_path", swr_path_problem(text) if text else Msg("is required"))]
        )
    namespace, name = parts["namespace"], parts["name"]
    repository = f"{namespace}/{name}"
    reference = parts.get("tag") or parts.get("digest", "")

    checks: list[Check] = []
    with call_scope(Deadline(timeout)):
        image: ImageInspection | None = None
        no_access = (PermissionDeniedError, AuthenticationError, ConfigError, TransportError)
        try:
            tags: list[SwrTag] | None = (
                shared.tags(swr, namespace, name) if shared else swr.tags(namespace, name)
            )
        except no_access as error:
            checks.append(_no_access(namespace, f"{namespace}/{name}", error))
            tags = None
        except NotFoundError:
            checks.append(_missing_repository(swr, namespace, name, reference, shared))
            tags = None
        except MaiWidgetsError as error:
            checks.append(
                Check(
                    "exists",
                    "warn",
                    Msg(
                        "Cannot list the tags of {repository} ({reason}).",
                        repository=repository,
                        reason=error.message,
                    ),
                )
            )
            tags = None
        if tags is not None and "tag" in parts and not any(t.tag == reference for t in tags):
            checks.append(_missing_tag(path, namespace, name, reference, tags))
        elif tags is not None:
            gate = shared.first_read(namespace, name) if shared else contextlib.nullcontext()
            try:
                with gate:
                    image = swr.inspect(path, arch=chosen_arch, tag_list=tags)
            except no_access as error:
                checks.append(
                    _no_access(
                        namespace,
                        Msg("the manifest of {repository}", repository=repository),
                        error,
                    )
                )
            except NotFoundError:
                checks.append(
                    Check(
                        "exists",
                        "fail",
                        Msg(
                            "There is no image {reference} in {repository}.",
                            reference=reference,
                            repository=repository,
                        ),
                    )
                )
            except MaiWidgetsError as error:
                checks.append(
                    Check(
                        "exists",
                        "warn",
                        Msg("Cannot read the image's manifest ({reason}).", reason=error.message),
                    )
                )
        if image is not None:
            checks.append(_exists(image, path))
            checks.append(_architecture(image, chosen_arch))
            if Service.NOTEBOOK.value in wanted_services:
                checks.append(_user(image))
        if registered:
            checks.append(_registered(client, path))
    return checks
