"""The ModelArts image contract: the one place the wire format is written down.

Request and response names differ on the wire (``services`` comes back as
``dev_services``, ``resource_category`` as ``resource_categories``); that mapping lives here
and nowhere else. Enum values compare case-insensitively because the service itself answers
``"x86_64"`` for a request of ``X86_64``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from enum import Enum
from typing import Any, TypedDict, TypeVar

from .errors import FieldProblem, ValidationError

__all__ = [
    "TERMINAL_STATUSES",
    "Arch",
    "FieldProblem",
    "ImageGroup",
    "ImageListWire",
    "ImageRecord",
    "ImageStatus",
    "ImageType",
    "ImageWire",
    "ListFilters",
    "Origin",
    "RegisterBody",
    "RegisterRequest",
    "ResourceCategory",
    "Service",
    "ServiceType",
    "SortDir",
    "ValidationError",
    "Visibility",
    "split_swr_path",
    "validate_image_id",
    "validate_register_fields",
]


class WireEnum(str, Enum):
    """A string enum whose lookup ignores case (``Arch("x86_64") is Arch.X86_64``)."""

    @classmethod
    def _missing_(cls, value: object) -> WireEnum | None:
        if isinstance(value, str):
            wanted = value.strip().upper()
            for member in cls:
                if member.value == wanted:
                    return member
        return None

    @classmethod
    def choices(cls) -> tuple[str, ...]:
        return tuple(m.value for m in cls)

    def __str__(self) -> str:
        return str(self.value)


class Arch(WireEnum):
    X86_64 = "X86_64"
    AARCH64 = "AARCH64"


class ResourceCategory(WireEnum):
    CPU = "CPU"
    GPU = "GPU"
    ASCEND = "ASCEND"


class Service(WireEnum):
    NOTEBOOK = "NOTEBOOK"
    SSH = "SSH"


class ServiceType(WireEnum):
    COMMON = "COMMON"
    INFERENCE = "INFERENCE"
    TRAIN = "TRAIN"
    DEV = "DEV"
    UNKNOWN = "UNKNOWN"


class Visibility(WireEnum):
    PRIVATE = "PRIVATE"
    PUBLIC = "PUBLIC"


class Origin(WireEnum):
    CUSTOMIZE = "CUSTOMIZE"
    IMAGE_SAVE = "IMAGE_SAVE"


class ImageType(WireEnum):
    BUILD_IN = "BUILD_IN"
    DEDICATED = "DEDICATED"


class SortDir(WireEnum):
    ASC = "ASC"
    DESC = "DESC"


class ImageStatus(WireEnum):
    INIT = "INIT"
    CREATING = "CREATING"
    ACTIVE = "ACTIVE"
    CREATE_FAILED = "CREATE_FAILED"
    ERROR = "ERROR"
    DELETED = "DELETED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES: frozenset[ImageStatus] = frozenset(
    {ImageStatus.ACTIVE, ImageStatus.CREATE_FAILED, ImageStatus.ERROR, ImageStatus.DELETED}
)

DESCRIPTION_MAX = 512
SWR_PATH_MIN = 16
SWR_PATH_MAX = 2048
DEFAULT_WORKSPACE_ID = "0"

# registry[:port]/namespace/name[/more]:tag or ...@sha256:<64 hex>. Docker's grammar for the
# repository components; SWR organisations are lower case letters, digits, '.', '_', '-'.
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
SWR_PATH_RE = re.compile(
    rf"^(?P<registry>{_HOST}(?::[0-9]{{1,5}})?)"
    rf"/(?P<namespace>{_COMPONENT})"
    rf"/(?P<name>{_COMPONENT}(?:/{_COMPONENT})*)"
    rf"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})|@(?P<digest>sha256:[a-f0-9]{{64}}))$"
)
SWR_PATH_HELP = "registry[:port]/namespace/name:tag (or name@sha256:<digest>)"

# Image ids are UUIDs on the service; anything that could change the URL path is refused.
IMAGE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


def validate_image_id(image_id: object, field_name: str = "image_id") -> str:
    """Return ``image_id`` if it is safe to put in a URL path, else raise :class:`ValidationError`."""
    if not isinstance(image_id, str) or not IMAGE_ID_RE.match(image_id):
        raise ValidationError(
            [FieldProblem(field_name, "must be an image id (letters, digits, '-' and '_' only)")]
        )
    return image_id


def split_swr_path(swr_path: str) -> dict[str, str] | None:
    """``registry``, ``namespace``, ``name`` and ``tag`` (or ``digest``) of an SWR path."""
    m = SWR_PATH_RE.match(swr_path)
    if not m:
        return None
    return {k: v for k, v in m.groupdict().items() if v is not None}


# ---------------------------------------------------------------------------------------
# Wire types (what goes over HTTP, exactly as the API names it)


class RegisterBody(TypedDict, total=False):
    """``POST /v1/{project_id}/images`` body (seed Table 2 plus newer optional fields)."""

    arch: str
    description: str
    origin: str
    resource_category: list[str]
    service_type: str
    services: list[str]
    swr_path: str
    visibility: str
    workspace_id: str
    flavor_type: str
    tags: list[dict[str, str]]
    swr_instance_id: str
    read_me: str


class ImageWire(TypedDict, total=False):
    """An image record as the service returns it (seed Table 3)."""

    arch: str
    create_at: int
    description: str
    dev_services: list[str]
    id: str
    name: str
    namespace: str
    origin: str
    resource_categories: list[str]
    service_type: str
    size: int
    status: str
    status_message: str
    support_res_categories: list[str]
    swr_path: str
    tag: str
    type: str
    update_at: int
    visibility: str
    workspace_id: str


class ImageListWire(TypedDict):
    """``GET /v1/{project_id}/images`` response."""

    current: int
    data: list[ImageWire]
    pages: int
    size: int
    total: int


class ImageGroupWire(TypedDict, total=False):
    """One row of ``GET /v1/{project_id}/images/group``."""

    name: str
    namespace: str
    version_count: int
    arch: str
    create_at: int
    update_at: int
    description: str
    type: str


class ErrorWire(TypedDict):
    error_code: str
    error_msg: str


# ---------------------------------------------------------------------------------------
# Register request

E = TypeVar("E", bound=WireEnum)

_ENUM_FIELDS: dict[str, type[WireEnum]] = {
    "arch": Arch,
    "origin": Origin,
    "service_type": ServiceType,
    "visibility": Visibility,
}
_LIST_FIELDS: dict[str, type[WireEnum]] = {
    "resource_category": ResourceCategory,
    "services": Service,
}
_STR_FIELDS = ("description", "swr_path", "workspace_id", "flavor_type", "swr_instance_id", "read_me")
REGISTER_FIELDS: tuple[str, ...] = (
    "swr_path",
    "arch",
    "resource_category",
    "services",
    "service_type",
    "origin",
    "visibility",
    "description",
    "workspace_id",
    "flavor_type",
    "tags",
    "swr_instance_id",
    "read_me",
)


def _check_enum(name: str, value: object, enum: type[E], problems: list[FieldProblem]) -> E | None:
    if value is None:
        return None
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        try:
            return enum(value)
        except ValueError:
            pass
        problems.append(FieldProblem(name, f"{value!r} is not one of {', '.join(enum.choices())}"))
        return None
    problems.append(FieldProblem(name, f"must be a string, one of {', '.join(enum.choices())}"))
    return None


def _check_enum_list(
    name: str, value: object, enum: type[E], problems: list[FieldProblem]
) -> tuple[E, ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        problems.append(FieldProblem(name, f"must be a list of {', '.join(enum.choices())}"))
        return None
    items = list(value)
    if not items:
        problems.append(FieldProblem(name, f"must name at least one of {', '.join(enum.choices())}"))
        return None
    out: list[E] = []
    for item in items:
        member = _check_enum(name, item, enum, problems)
        if member is not None and member not in out:
            out.append(member)
    return tuple(out)


def _check_swr_path(value: object, problems: list[FieldProblem]) -> None:
    if not isinstance(value, str) or not value:
        return
    if not SWR_PATH_MIN <= len(value) <= SWR_PATH_MAX:
        problems.append(
            FieldProblem(
                "swr_path",
                f"must be {SWR_PATH_MIN} to {SWR_PATH_MAX} characters (it has {len(value)})",
            )
        )
    elif not SWR_PATH_RE.match(value):
        problems.append(FieldProblem("swr_path", f"must look like {SWR_PATH_HELP}"))


def _check_tags(value: object, problems: list[FieldProblem]) -> tuple[tuple[str, str], ...] | None:
    if value is None:
        return None
    ok = isinstance(value, (list, tuple)) and all(
        isinstance(t, Mapping)
        and set(t) <= {"key", "value"}
        and isinstance(t.get("key"), str)
        and isinstance(t.get("value", ""), str)
        for t in value
    )
    if not ok or not isinstance(value, (list, tuple)):
        problems.append(FieldProblem("tags", 'must be a list of {"key": str, "value": str}'))
        return None
    return tuple((str(t["key"]), str(t.get("value", ""))) for t in value)


@dataclass(frozen=True)
class RegisterRequest:
    """A validated register request. Build it with :meth:`create` (or :meth:`from_body`)."""

    swr_path: str
    arch: Arch | None = None
    resource_category: tuple[ResourceCategory, ...] | None = None
    services: tuple[Service, ...] | None = None
    service_type: ServiceType | None = None
    origin: Origin | None = None
    visibility: Visibility | None = None
    description: str | None = None
    workspace_id: str | None = None
    flavor_type: str | None = None
    tags: tuple[tuple[str, str], ...] | None = None
    swr_instance_id: str | None = None
    read_me: str | None = None

    def __post_init__(self) -> None:
        # Constructing directly validates too, so an invalid request cannot exist.
        values = self.as_fields()
        if self.tags is not None:
            values["tags"] = [{"key": k, "value": v} for k, v in self.tags]
        problems = validate_register_fields(values)
        if problems:
            raise ValidationError(problems)

    @classmethod
    def create(cls, **values: Any) -> RegisterRequest:
        """Validate raw values (strings, lists, enums) and build the request.

        Raises :class:`ValidationError` naming every bad field at once.
        """
        parsed, problems = parse_register_fields(values)
        if problems or parsed is None:
            raise ValidationError(problems)
        return parsed

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> RegisterRequest:
        """Parse a JSON request body (the server side of :meth:`to_body`)."""
        return cls.create(**dict(body))

    def to_body(self) -> RegisterBody:
        """The JSON body to send; fields left as ``None`` are not sent."""
        body: dict[str, Any] = {}
        for name in REGISTER_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            if name == "tags":
                body[name] = [{"key": k, "value": v} for k, v in value]
            elif isinstance(value, tuple):
                body[name] = [str(v) for v in value]
            else:
                body[name] = str(value)
        return body  # type: ignore[return-value]

    def replace(self, **changes: Any) -> RegisterRequest:
        values = self.as_fields()
        if self.tags is not None:
            values["tags"] = [{"key": k, "value": v} for k, v in self.tags]
        return RegisterRequest.create(**{**values, **changes})

    def as_fields(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def parse_register_fields(
    values: Mapping[str, Any],
) -> tuple[RegisterRequest | None, list[FieldProblem]]:
    """Parse raw register fields; return the request (or ``None``) and every problem found."""
    problems: list[FieldProblem] = []
    unknown = sorted(set(values) - set(REGISTER_FIELDS))
    for name in unknown:
        problems.append(FieldProblem(name, "is not a register field"))
    if values.get("swr_path") in (None, ""):
        problems.append(FieldProblem("swr_path", f"is required ({SWR_PATH_HELP})"))
    for name in _STR_FIELDS:
        value = values.get(name)
        if value is not None and not isinstance(value, str):
            problems.append(FieldProblem(name, "must be a string"))
    _check_swr_path(values.get("swr_path"), problems)
    description = values.get("description")
    if isinstance(description, str) and len(description) > DESCRIPTION_MAX:
        problems.append(
            FieldProblem(
                "description", f"must be at most {DESCRIPTION_MAX} characters (it has {len(description)})"
            )
        )
    workspace_id = values.get("workspace_id")
    if isinstance(workspace_id, str) and not IMAGE_ID_RE.match(workspace_id):
        problems.append(FieldProblem("workspace_id", "must be letters, digits, '-' or '_' (default \"0\")"))
    enums = {name: _check_enum(name, values.get(name), enum, problems) for name, enum in _ENUM_FIELDS.items()}
    lists = {
        name: _check_enum_list(name, values.get(name), enum, problems) for name, enum in _LIST_FIELDS.items()
    }
    tags = _check_tags(values.get("tags"), problems)
    if problems:
        return None, problems
    strs = {name: values.get(name) for name in _STR_FIELDS}
    request = object.__new__(RegisterRequest)
    for name, value in {**strs, **enums, **lists, "tags": tags}.items():
        object.__setattr__(request, name, value)
    return request, []


def validate_register_fields(values: Mapping[str, Any]) -> list[FieldProblem]:
    """Every problem with raw register fields, each naming its field (empty list: valid)."""
    return parse_register_fields(values)[1]


# ---------------------------------------------------------------------------------------
# Image record

# Response name -> Python attribute, for the names that differ. The request's
# ``resource_category`` and ``services`` come back under these names.
_RECORD_RENAMES: dict[str, str] = {"dev_services": "services"}
_RECORD_ENUMS: dict[str, type[WireEnum]] = {
    "arch": Arch,
    "origin": Origin,
    "service_type": ServiceType,
    "status": ImageStatus,
    "type": ImageType,
    "visibility": Visibility,
}
_RECORD_ENUM_LISTS: dict[str, type[WireEnum]] = {
    "dev_services": Service,
    "resource_categories": ResourceCategory,
    "support_res_categories": ResourceCategory,
}
_RECORD_TIMES = ("create_at", "update_at")


def _coerce(enum: type[E], value: Any) -> E | str:
    """An enum member, or the raw string for a value this version does not know yet."""
    try:
        return enum(value)
    except ValueError:
        return str(value)


def ms_to_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc)


def datetime_to_ms(value: datetime) -> int:
    return round(value.timestamp() * 1000)


@dataclass(frozen=True)
class ImageRecord:
    """An image as ModelArts describes it. Unknown fields are kept in ``extra``."""

    id: str
    status: ImageStatus | str = ImageStatus.INIT
    name: str | None = None
    tag: str | None = None
    namespace: str | None = None
    swr_path: str | None = None
    arch: Arch | str | None = None
    description: str | None = None
    origin: Origin | str | None = None
    resource_categories: tuple[ResourceCategory | str, ...] = ()
    support_res_categories: tuple[ResourceCategory | str, ...] = ()
    services: tuple[Service | str, ...] = ()
    service_type: ServiceType | str | None = None
    visibility: Visibility | str | None = None
    type: ImageType | str | None = None
    workspace_id: str | None = None
    size: int | None = None
    status_message: str | None = None
    create_at: datetime | None = None
    update_at: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Set by the client when registration found this image already registered (ModelArts.2884).
    already_registered: bool = False

    @property
    def is_terminal(self) -> bool:
        return isinstance(self.status, ImageStatus) and self.status.is_terminal

    @property
    def size_bytes(self) -> int | None:
        return None if self.size is None else self.size * 1024

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ImageRecord:
        """Parse a response record; never fails on unknown fields or enum values."""
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
            raise ValueError("image record without an 'id'")
        known = {f.name for f in fields(cls)} - {"extra", "already_registered"}
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            attr = _RECORD_RENAMES.get(key, key)
            if key in _RECORD_ENUMS:
                values[attr] = None if value is None else _coerce(_RECORD_ENUMS[key], value)
            elif key in _RECORD_ENUM_LISTS:
                values[attr] = tuple(_coerce(_RECORD_ENUM_LISTS[key], v) for v in (value or ()))
            elif key in _RECORD_TIMES:
                values[attr] = ms_to_datetime(value)
            elif key == "size":
                values[attr] = value if isinstance(value, int) and not isinstance(value, bool) else None
            elif attr in known and key not in _RECORD_RENAMES.values():
                values[attr] = value
            else:
                extra[key] = value
        if values.get("status") is None:
            values.pop("status", None)
        return cls(**values, extra=extra)

    def to_wire(self) -> ImageWire:
        """The record in response form (the inverse of :meth:`from_wire`)."""
        out: dict[str, Any] = dict(self.extra)
        reverse = {v: k for k, v in _RECORD_RENAMES.items()}
        for f in fields(self):
            if f.name in ("extra", "already_registered"):
                continue
            value = getattr(self, f.name)
            key = reverse.get(f.name, f.name)
            if value is None:
                continue
            if isinstance(value, datetime):
                out[key] = datetime_to_ms(value)
            elif isinstance(value, tuple):
                out[key] = [str(v) for v in value]
            elif isinstance(value, WireEnum):
                out[key] = value.value
            else:
                out[key] = value
        return out  # type: ignore[return-value]

    def with_changes(self, **changes: Any) -> ImageRecord:
        return replace(self, **changes)


@dataclass(frozen=True)
class ImageGroup:
    """One row of the image group list: an image name and how many versions it has."""

    name: str
    version_count: int
    namespace: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ImageGroup:
        rest = {k: v for k, v in data.items() if k not in ("name", "version_count", "namespace")}
        return cls(
            name=str(data.get("name", "")),
            version_count=int(data.get("version_count") or 0),
            namespace=data.get("namespace"),
            extra=rest,
        )


# ---------------------------------------------------------------------------------------
# List filters

_LIST_QUERY_ENUMS: dict[str, type[WireEnum]] = {
    "service_type": ServiceType,
    "sort_dir": SortDir,
    "type": ImageType,
}
LIST_SORT_KEYS = ("create_at", "update_at", "name", "status", "size")
LIST_LIMIT_MAX = 200  # the API's default page size, and the largest page we ask for


@dataclass(frozen=True)
class ListFilters:
    """The filters of ``GET /v1/{project_id}/images`` (paging is the client's business)."""

    name: str | None = None
    name_fuzzy_match: bool | None = None
    namespace: str | None = None
    service_type: ServiceType | None = None
    sort_dir: SortDir | None = None
    sort_key: str | None = None
    type: ImageType | None = None
    workspace_id: str | None = None

    @classmethod
    def create(cls, **values: Any) -> ListFilters:
        problems: list[FieldProblem] = []
        out: dict[str, Any] = {}
        for name, value in values.items():
            if value is None:
                continue
            if name in _LIST_QUERY_ENUMS:
                out[name] = _check_enum(name, value, _LIST_QUERY_ENUMS[name], problems)
            elif name == "name_fuzzy_match":
                if not isinstance(value, bool):
                    problems.append(FieldProblem(name, "must be true or false"))
                out[name] = value
            elif name in ("name", "namespace", "workspace_id", "sort_key"):
                if not isinstance(value, str) or not value:
                    problems.append(FieldProblem(name, "must be a non-empty string"))
                elif name == "sort_key" and value not in LIST_SORT_KEYS:
                    problems.append(FieldProblem(name, f"must be one of {', '.join(LIST_SORT_KEYS)}"))
                out[name] = value
            else:
                problems.append(FieldProblem(name, "is not a list filter"))
        if problems:
            raise ValidationError(problems)
        return cls(**out)

    def to_query(self) -> dict[str, str]:
        query: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            query[f.name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return query
