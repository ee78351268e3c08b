"""The ModelArts notebook contract: instances as the API describes them, and "save as an image".

The one place the notebook wire format is written down (as :mod:`.contract` is for images).
Sources: SDK 3.1.219 ``NotebookResp``, ``ListNotebooksRequest``, ``ImageCreateReq`` and the API
page "Saving a Running Instance as a Container Image" (CreateImage). Unknown fields are kept in
``extra``, never fatal; the instance's ``token`` (its Jupyter access token) is never kept at all.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import FieldProblem, ValidationError
from ..i18n import Msg
from .contract import (
    DESCRIPTION_MAX,
    WORKSPACE_ID_HELP,
    WORKSPACE_ID_RE,
    Arch,
    ImageType,
    SortDir,
    WireEnum,
    ms_to_datetime,
    validate_image_id,
)

__all__ = [
    "NOTEBOOK_LIST_LIMITS",
    "NOT_KEPT_PATHS",
    "SETTLED_NOTEBOOK_STATUSES",
    "NotebookImage",
    "NotebookLease",
    "NotebookRecord",
    "NotebookStatus",
    "SaveImageRequest",
    "default_save_tag",
    "notebook_list_query",
    "validate_notebook_id",
    "validate_save_fields",
]


class NotebookStatus(WireEnum):
    """SDK ``ListNotebooksRequest.status``: the 14 states of an instance."""

    INIT = "INIT"
    CREATING = "CREATING"
    STARTING = "STARTING"
    STOPPING = "STOPPING"
    DELETING = "DELETING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    SNAPSHOTTING = "SNAPSHOTTING"  # saving its image: the instance is unavailable meanwhile
    CREATE_FAILED = "CREATE_FAILED"
    START_FAILED = "START_FAILED"
    DELETE_FAILED = "DELETE_FAILED"
    ERROR = "ERROR"
    DELETED = "DELETED"
    FROZEN = "FROZEN"

    @property
    def is_settled(self) -> bool:
        return self in SETTLED_NOTEBOOK_STATUSES


# States that stay until someone acts; the others (INIT, CREATING, STARTING, STOPPING, DELETING,
# SNAPSHOTTING) move on by themselves, so a follow keeps reading them.
SETTLED_NOTEBOOK_STATUSES: frozenset[NotebookStatus] = frozenset(
    {
        NotebookStatus.RUNNING,
        NotebookStatus.STOPPED,
        NotebookStatus.CREATE_FAILED,
        NotebookStatus.START_FAILED,
        NotebookStatus.DELETE_FAILED,
        NotebookStatus.ERROR,
        NotebookStatus.DELETED,
        NotebookStatus.FROZEN,
    }
)

# What a saved image does not contain: the instance's mounted storage (OTC ModelArts docs).
NOT_KEPT_PATHS: tuple[str, ...] = ("/home/ma-user/work", "/data", "/cache")

# SDK ListNotebooksRequest.limit: "[10,20,50]", default 10.
NOTEBOOK_LIST_LIMITS: tuple[int, ...] = (10, 20, 50)
NOTEBOOK_NAME_FILTER_MAX = 128
_NAME_FILTER_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

# ImageCreateReq (SDK docstrings).
SAVE_NAME_MAX = 128
SAVE_NAMESPACE_MAX = 64
SAVE_TAG_MAX = 64
_NAME_CHARS_RE = re.compile(r"^[a-z0-9._-]+$")
_LOWER_OR_DIGIT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_NAMESPACE_CHARS_RE = re.compile(r"^[A-Za-z0-9._-]+$")
_TAG_CHARS_RE = re.compile(r"^[A-Za-z0-9._-]+$")
SAVE_FIELDS: tuple[str, ...] = ("name", "namespace", "tag", "description", "workspace_id")


def validate_notebook_id(notebook_id: object, field_name: str = "notebook_id") -> str:
    """``notebook_id`` if it is safe in a URL path (ids are UUIDs), else :class:`ValidationError`."""
    return validate_image_id(notebook_id, field_name)


# ---------------------------------------------------------------------------------------
# The instance record


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _enum_or_text(enum: type[WireEnum], value: Any) -> Any:
    if not isinstance(value, str):
        return None
    try:
        return enum(value)
    except ValueError:
        return value  # a state this version does not know yet: kept as text


@dataclass(frozen=True)
class NotebookImage:
    """The image an instance runs (``NotebookResp.image``, the SDK's ``Image`` model)."""

    id: str | None = None
    name: str | None = None
    tag: str | None = None
    namespace: str | None = None
    swr_path: str | None = None
    arch: Arch | str | None = None
    type: ImageType | str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    _NAMED = ("id", "name", "tag", "namespace", "swr_path", "arch", "type")

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> NotebookImage:
        return cls(
            id=_text(data.get("id")),
            name=_text(data.get("name")),
            tag=_text(data.get("tag")),
            namespace=_text(data.get("namespace")),
            swr_path=_text(data.get("swr_path")),
            arch=_enum_or_text(Arch, data.get("arch")),
            type=_enum_or_text(ImageType, data.get("type")),
            extra={k: v for k, v in data.items() if k not in cls._NAMED},
        )


@dataclass(frozen=True)
class NotebookLease:
    """``NotebookResp.lease``: when the instance stops by itself (``duration`` ms after ``create_at``)."""

    create_at: datetime | None = None
    duration: int | None = None
    enable: bool | None = None
    type: str | None = None
    update_at: datetime | None = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> NotebookLease:
        enable = data.get("enable")
        return cls(
            create_at=ms_to_datetime(data.get("create_at")),
            duration=_int(data.get("duration")),
            enable=enable if isinstance(enable, bool) else None,
            type=_text(data.get("type")),
            update_at=ms_to_datetime(data.get("update_at")),
        )


# Fields of NotebookResp never kept: ``token`` is the instance's Jupyter access token (a secret).
_DROPPED_FIELDS = frozenset({"token"})
_RECORD_NAMED = frozenset(
    {
        "id",
        "name",
        "status",
        "description",
        "fail_reason",
        "action_progress",
        "image",
        "flavor",
        "url",
        "ip",
        "workspace_id",
        "feature",
        "user",
        "user_id",
        "lease",
    }
)


@dataclass(frozen=True)
class NotebookRecord:
    """A notebook instance as ``GET /v1/{project_id}/notebooks[/{id}]`` describes it.

    ``action_progress`` is the SDK's ``JobProgress`` list as ``(step, status, description)``;
    ``user_name`` is ``user.name``. Fields this version does not name are in ``extra`` (the
    instance's access ``token`` is dropped, never kept).
    """

    id: str
    status: NotebookStatus | str = NotebookStatus.INIT
    name: str | None = None
    description: str | None = None
    fail_reason: str | None = None
    action_progress: tuple[tuple[int | None, str | None, str | None], ...] = ()
    image: NotebookImage | None = None
    flavor: str | None = None
    url: str | None = None
    ip: str | None = None
    workspace_id: str | None = None
    feature: str | None = None
    user_name: str | None = None
    user_id: str | None = None
    lease: NotebookLease | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_settled(self) -> bool:
        """In a state that stays until someone acts (RUNNING, STOPPED, a failure...)."""
        return isinstance(self.status, NotebookStatus) and self.status.is_settled

    @property
    def is_running(self) -> bool:
        return self.status == NotebookStatus.RUNNING

    @property
    def label(self) -> str:
        """How a picker names the instance: its name and state."""
        return f"{self.name or self.id} ({self.status})"

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> NotebookRecord:
        """Parse a response record; never fails on unknown fields or states."""
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
            raise ValueError("notebook record without an 'id'")
        status = _enum_or_text(NotebookStatus, data.get("status"))
        progress: list[tuple[int | None, str | None, str | None]] = []
        for step in data.get("action_progress") or ():
            if isinstance(step, Mapping):
                progress.append(
                    (_int(step.get("step")), _text(step.get("status")), _text(step.get("description")))
                )
        image, user, lease = data.get("image"), data.get("user"), data.get("lease")
        return cls(
            id=data["id"],
            status=status if status is not None else NotebookStatus.INIT,
            name=_text(data.get("name")),
            description=_text(data.get("description")),
            fail_reason=_text(data.get("fail_reason")),
            action_progress=tuple(progress),
            image=NotebookImage.from_wire(image) if isinstance(image, Mapping) else None,
            flavor=_text(data.get("flavor")),
            url=_text(data.get("url")),
            ip=_text(data.get("ip")),
            workspace_id=_text(data.get("workspace_id")),
            feature=_text(data.get("feature")),
            user_name=_text(user.get("name")) if isinstance(user, Mapping) else None,
            user_id=_text(data.get("user_id"))
            or (_text(user.get("id")) if isinstance(user, Mapping) else None),
            lease=NotebookLease.from_wire(lease) if isinstance(lease, Mapping) else None,
            extra={k: v for k, v in data.items() if k not in _RECORD_NAMED and k not in _DROPPED_FIELDS},
        )


# ---------------------------------------------------------------------------------------
# The list's filters


def notebook_list_query(
    *,
    status: NotebookStatus | str | None = None,
    name: str | None = None,
    ip: str | None = None,
    workspace_id: str | None = None,
    sort_dir: SortDir | str | None = None,
) -> dict[str, str]:
    """The query of ``GET /v1/{project_id}/notebooks`` for these filters (paging is the client's).

    Raises :class:`ValidationError` naming every bad filter (SDK ``ListNotebooksRequest``: ``name``
    fuzzy, at most 128 of letters, digits, ``-`` and ``_``; ``ip`` an IPv4 address).
    """
    problems: list[FieldProblem] = []
    query: dict[str, str] = {}
    if status is not None:
        try:
            query["status"] = NotebookStatus(status).value
        except ValueError:
            problems.append(FieldProblem("status", f"must be one of {', '.join(NotebookStatus.choices())}"))
    if name is not None:
        if not isinstance(name, str) or not _NAME_FILTER_RE.match(name):
            problems.append(
                FieldProblem("name", "must be 1 to 128 letters, digits, '-' or '_' (matched in part)")
            )
        else:
            query["name"] = name
    if ip is not None:
        try:
            query["ip"] = str(ipaddress.IPv4Address(ip))
        except (ipaddress.AddressValueError, ValueError):
            problems.append(FieldProblem("ip", "must be an IPv4 address (the list takes no IPv6)"))
    if workspace_id is not None:
        if not isinstance(workspace_id, str) or not WORKSPACE_ID_RE.match(workspace_id):
            problems.append(FieldProblem("workspace_id", f"must be {WORKSPACE_ID_HELP}"))
        else:
            query["workspace_id"] = workspace_id
    if sort_dir is not None:
        try:
            query["sort_dir"] = SortDir(sort_dir).value
        except ValueError:
            problems.append(FieldProblem("sort_dir", "must be ASC or DESC"))
    if problems:
        raise ValidationError(problems)
    return query


# ---------------------------------------------------------------------------------------
# Save as an image (POST /v1/{project_id}/notebooks/{id}/create-image)


# The problems of a save's fields are shown next to each field (the Save notebook tab): a Msg is
# English as a str (ValidationError's message is unchanged) and translated where it is shown.
def _too_long(value: str, limit: int) -> Msg:
    return Msg("must be at most {limit} characters (it has {length})", limit=limit, length=len(value))


def _name_problems(value: str) -> list[str]:
    out: list[str] = []
    if len(value) > SAVE_NAME_MAX:
        out.append(_too_long(value, SAVE_NAME_MAX))
    if not _NAME_CHARS_RE.match(value):
        out.append(Msg("may contain only lower-case letters, digits, '-', '_' and '.'"))
    if value[0] not in _LOWER_OR_DIGIT:
        out.append(Msg("must start with a lower-case letter or a digit"))
    if value[-1] not in _LOWER_OR_DIGIT:
        out.append(Msg("must end with a lower-case letter or a digit"))
    return out


def _namespace_problems(value: str) -> list[str]:
    out: list[str] = []
    if len(value) > SAVE_NAMESPACE_MAX:
        out.append(_too_long(value, SAVE_NAMESPACE_MAX))
    if not _NAMESPACE_CHARS_RE.match(value):
        out.append(Msg("may contain only letters, digits, '-', '_' and '.'"))
    if not ("a" <= value[0] <= "z"):
        out.append(Msg("must start with a lower-case letter"))
    return out


def _tag_problems(value: str) -> list[str]:
    out: list[str] = []
    if len(value) > SAVE_TAG_MAX:
        out.append(_too_long(value, SAVE_TAG_MAX))
    if not _TAG_CHARS_RE.match(value):
        out.append(Msg("may contain only letters, digits, '-', '_' and '.'"))
    return out


_RULES = {"name": _name_problems, "namespace": _namespace_problems, "tag": _tag_problems}
_REQUIRED = {
    "name": Msg("is required: the image's name (lower-case letters, digits, '-', '_', '.')"),
    "namespace": Msg("is required: the SWR organization to save into"),
}


def _parse_save_fields(values: Mapping[str, Any]) -> tuple[dict[str, str | None], list[FieldProblem]]:
    problems: list[FieldProblem] = []
    for unknown in sorted(set(values) - set(SAVE_FIELDS)):
        problems.append(
            FieldProblem(
                unknown, "is not a field of a save (name, namespace, tag, description, workspace_id)"
            )
        )
    out: dict[str, str | None] = {}
    for name in SAVE_FIELDS:
        value = values.get(name)
        if value is not None and not isinstance(value, str):
            problems.append(FieldProblem(name, Msg("must be a string")))
            continue
        if value == "" and name not in _REQUIRED:
            value = None  # an empty optional field is "not sent"
        if value is None or value == "":
            if name in _REQUIRED:
                problems.append(FieldProblem(name, _REQUIRED[name]))
            out[name] = None
            continue
        if name in _RULES:
            problems += [FieldProblem(name, message) for message in _RULES[name](value)]
        elif name == "description" and len(value) > DESCRIPTION_MAX:
            problems.append(FieldProblem(name, _too_long(value, DESCRIPTION_MAX)))
        elif name == "workspace_id" and not WORKSPACE_ID_RE.match(value):
            problems.append(FieldProblem(name, Msg("must be {rule}", rule=WORKSPACE_ID_HELP)))
        out[name] = value
    return out, problems


def validate_save_fields(values: Mapping[str, Any]) -> list[FieldProblem]:
    """Every problem with raw save fields, one per broken rule (empty list: valid); for a form
    that shows them as the user types."""
    return _parse_save_fields(values)[1]


@dataclass(frozen=True)
class SaveImageRequest:
    """The body of ``POST /v1/{project_id}/notebooks/{id}/create-image`` (SDK ``ImageCreateReq``).

    Build it with :meth:`create`, which checks every rule; ``None`` fields are not sent.
    """

    name: str
    namespace: str
    tag: str | None = None
    description: str | None = None
    workspace_id: str | None = None

    @classmethod
    def create(cls, **values: Any) -> SaveImageRequest:
        """Validate raw values; raises :class:`ValidationError` naming every broken rule at once."""
        parsed, problems = _parse_save_fields(values)
        if problems:
            raise ValidationError(problems)
        name, namespace = parsed.pop("name"), parsed.pop("namespace")
        assert name is not None
        assert namespace is not None
        return cls(name=name, namespace=namespace, **parsed)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> SaveImageRequest:
        """Parse a JSON body (the server side of :meth:`to_body`); the enterprise-SWR fields are
        accepted and ignored."""
        return cls.create(
            **{k: v for k, v in body.items() if k not in ("swr_instance_id", "swr_instance_domain")}
        )

    def to_body(self) -> dict[str, str]:
        return {name: value for name in SAVE_FIELDS if (value := getattr(self, name)) is not None}

    def with_tag(self, tag: str) -> SaveImageRequest:
        return SaveImageRequest.create(**{**self.to_body(), "tag": tag})

    @property
    def repository(self) -> str:
        """``namespace/name``: where in SWR the image lands."""
        return f"{self.namespace}/{self.name}"


def default_save_tag(existing: Iterable[str], now: datetime) -> str:
    """A date-and-time tag (``20261207-0321``, the minute of ``now``) that none of ``existing``
    is; ``-2``, ``-3``... is added on a collision."""
    base = now.strftime("%Y%m%d-%H%M")
    taken = set(existing)
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
