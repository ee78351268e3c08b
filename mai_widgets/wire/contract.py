"""The ModelArts image contract: the one place the wire format is written down.

Request and response names differ on the wire (``services`` comes back as
``dev_services``, ``resource_category`` as ``resource_categories``); that mapping lives here
and nowhere else. Enum values compare case-insensitively because the service itself answers
``"x86_64"`` for a request of ``X86_64``.

Comments across the package mark with **(u)** ("unconfirmed") a fact no public source settles
(the SDK, the API reference, the Terraform provider): a reading chosen and kept in one place so it
is easy to change when the real service says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Literal, TypedDict, TypeVar

from ..errors import FieldProblem, ValidationError
from ..i18n import Msg

__all__ = [
    "FAILED_STATUSES",
    "TERMINAL_STATUSES",
    "Arch",
    "FieldDifference",
    "FieldProblem",
    "ImageGroup",
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
    "register_again_fields",
    "registered_differences",
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


class FlavorType(WireEnum):
    # SDK ImageRegRequest.flavor_type: Ascend 910, 910B and 310 chips.
    ASCEND_SNT9 = "ASCEND_SNT9"
    ASCEND_SNT9B = "ASCEND_SNT9B"
    ASCEND_SNT3 = "ASCEND_SNT3"


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
# Registrations that ended badly: "Register again" (delete the record, register the same fields)
# is offered for these, and preflight says so when the path is one of them.
FAILED_STATUSES: frozenset[ImageStatus] = frozenset({ImageStatus.CREATE_FAILED, ImageStatus.ERROR})

DESCRIPTION_MAX = 512
READ_ME_MAX = 3000  # SDK ImageRegRequest.read_me
TAGS_MAX = 20  # SDK ImageRegRequest.tags: at most 20, key <= 128 and value <= 255 characters
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 255
SWR_PATH_MIN = 16
SWR_PATH_MAX = 2048
DEFAULT_WORKSPACE_ID = "0"
# SDK: workspace_id is "0" (the default workspace) or a 32-character id of [0-9a-z].
WORKSPACE_ID_RE = re.compile(r"^(?:0|[0-9a-z]{32})$")
# Msg: English as a str, translated where a view shows it (labels, helps and field problems too)
WORKSPACE_ID_HELP = Msg('"0" (the default workspace) or a 32-character workspace id of 0-9 and a-z')

# registry[:port]/namespace/name[/more]:tag or ...@sha256:<64 hex>. Docker's grammar for the
# repository components; SWR organisations are lower case letters, digits, '.', '_', '-'.
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = (
    rf"(?P<namespace>{_COMPONENT})"
    rf"/(?P<name>{_COMPONENT}(?:/{_COMPONENT})*)"
    rf"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})|@(?P<digest>sha256:[a-f0-9]{{64}}))$"
)
SWR_PATH_RE = re.compile(rf"^(?P<registry>{_HOST}(?::[0-9]{{1,5}})?)/{_REPOSITORY}")
# ma-cli takes the path without its registry host (org/image:tag); completed per region.
HOSTLESS_SWR_PATH_RE = re.compile(rf"^{_REPOSITORY}")
SWR_PATH_HELP = Msg("registry/namespace/name:tag, or namespace/name:tag for this region's SWR")


def swr_registry(region: str) -> str:
    """The SWR registry host of a region (where ``docker push`` sends images)."""
    return f"swr.{region}.myhuaweicloud.com"


def _has_registry(path: str) -> bool:
    # Docker's rule: the first component names a registry when it has a '.' or ':' or is localhost.
    first = path.split("/", 1)[0]
    return "/" in path and ("." in first or ":" in first or first == "localhost")


def complete_swr_path(swr_path: str, region: str) -> str:
    """``org/image:tag`` -> ``swr.{region}.myhuaweicloud.com/org/image:tag``; full paths unchanged."""
    path = swr_path.strip()
    if path and not _has_registry(path) and HOSTLESS_SWR_PATH_RE.match(path):
        return f"{swr_registry(region)}/{path}"
    return swr_path


# Image ids are UUIDs on the service; anything that could change the URL path is refused.
IMAGE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


def validate_image_id(image_id: object, field_name: str = "image_id") -> str:
    """Return ``image_id`` if it is safe to put in a URL path, else raise :class:`ValidationError`."""
    if not isinstance(image_id, str) or not IMAGE_ID_RE.match(image_id):
        raise ValidationError(
            [FieldProblem(field_name, Msg("must be an image id (letters, digits, '-' and '_' only)"))]
        )
    return image_id


def split_swr_path(swr_path: str) -> dict[str, str] | None:
    """``registry``, ``namespace``, ``name`` and ``tag`` (or ``digest``) of an SWR path."""
    m = SWR_PATH_RE.match(swr_path) if _has_registry(swr_path) else HOSTLESS_SWR_PATH_RE.match(swr_path)
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
    flavor_type: str
    swr_instance_id: str
    show_name: str
    show_tag: str
    tags: list[dict[str, str]]


# ---------------------------------------------------------------------------------------
# Register request

E = TypeVar("E", bound=WireEnum)


@dataclass(frozen=True)
class FieldSpec:
    """One field of the register request, as every surface shows it.

    The panel's controls, the magic's arguments, the record table's rows and the request's
    validation are all derived from :data:`REGISTER_FIELD_TABLE`.
    """

    name: str  # the request body's (wire) name
    label: str  # the panel's label and the record table's row name
    flag: str  # the magic's long flag (ma-cli's, where ma-cli has the field)
    short_flag: str | None  # ma-cli image register's short flag
    help: str
    enum: type[WireEnum] | None = None
    multiple: bool = False  # a list of enum values (at least one)
    default: str | tuple[str, ...] | None = None  # the form's starting value (None: empty)
    max_length: int | None = None
    empty_is_unset: bool = False  # an empty form value is "not sent", not an error
    record_attr: str | None = None  # the ImageRecord attribute it comes back as
    in_form: bool = True  # shown in the panel (the rest: Python and the magic only)

    @property
    def choices(self) -> tuple[str, ...]:
        return self.enum.choices() if self.enum is not None else ()


REGISTER_FIELD_TABLE: tuple[FieldSpec, ...] = (
    FieldSpec(
        "swr_path",
        Msg("SWR path"),
        "--swr-path",
        "-swr",
        SWR_PATH_HELP,
        max_length=SWR_PATH_MAX,
        record_attr="swr_path",
    ),
    FieldSpec(
        "arch",
        Msg("Architecture"),
        "--arch",
        "-a",
        Msg("CPU architecture"),
        Arch,
        default="X86_64",
        record_attr="arch",
    ),
    FieldSpec(
        "resource_category",
        Msg("Resource categories"),
        "--resource-category",
        "-rs",
        Msg("resources the image runs on (the service's default: CPU and GPU)"),
        ResourceCategory,
        multiple=True,
        # The SDK, the API reference and ma-cli: omitted means CPU and GPU.
        default=("CPU", "GPU"),
        record_attr="resource_categories",
    ),
    FieldSpec(
        "services",
        Msg("Services"),
        "--service",
        "-s",
        Msg("services the image offers"),
        Service,
        multiple=True,
        default=("NOTEBOOK", "SSH"),
        record_attr="services",
    ),
    FieldSpec(
        "service_type",
        Msg("Service type"),
        "--service-type",
        None,
        Msg("what the image is for"),
        ServiceType,
        default="UNKNOWN",
        record_attr="service_type",
    ),
    FieldSpec(
        "origin",
        Msg("Origin"),
        "--origin",
        None,
        Msg("where the image comes from"),
        Origin,
        default="CUSTOMIZE",
        record_attr="origin",
    ),
    FieldSpec(
        "visibility",
        Msg("Visibility"),
        "--visibility",
        "-v",
        Msg("who can use it"),
        Visibility,
        default="PRIVATE",
        record_attr="visibility",
    ),
    FieldSpec(
        "description",
        Msg("Description"),
        "--description",
        None,
        Msg("at most {n} characters", n=DESCRIPTION_MAX),
        max_length=DESCRIPTION_MAX,
        empty_is_unset=True,
        record_attr="description",
    ),
    FieldSpec(
        "workspace_id",
        Msg("Workspace id"),
        "--workspace-id",
        "-wi",
        WORKSPACE_ID_HELP,
        default=DEFAULT_WORKSPACE_ID,
        record_attr="workspace_id",
    ),
    FieldSpec(
        "flavor_type",
        Msg("Flavor type"),
        "--flavor-type",
        None,
        Msg("Ascend chip type"),
        FlavorType,
        empty_is_unset=True,
        in_form=False,
    ),
    FieldSpec(
        "tags",
        Msg("Tags"),
        "--tag",
        None,
        Msg('at most {n} tags, each {{"key": ..., "value": ...}}', n=TAGS_MAX),
        in_form=False,
    ),
    FieldSpec(
        "swr_instance_id",
        Msg("SWR instance id"),
        "--swr-instance-id",
        None,
        Msg("SWR enterprise instance id"),
        empty_is_unset=True,
        in_form=False,
    ),
    FieldSpec(
        "read_me",
        Msg("Read me"),
        "--read-me",
        None,
        Msg("at most {n} characters", n=READ_ME_MAX),
        max_length=READ_ME_MAX,
        empty_is_unset=True,
        in_form=False,
    ),
)
FIELDS_BY_NAME: dict[str, FieldSpec] = {spec.name: spec for spec in REGISTER_FIELD_TABLE}
REGISTER_FIELDS: tuple[str, ...] = tuple(FIELDS_BY_NAME)
FORM_FIELDS: tuple[FieldSpec, ...] = tuple(spec for spec in REGISTER_FIELD_TABLE if spec.in_form)


def field_spec(name: str) -> FieldSpec:
    """The :class:`FieldSpec` of a register field (KeyError for an unknown name)."""
    return FIELDS_BY_NAME[name]


def form_defaults() -> dict[str, Any]:
    """The form's starting values, from the table (empty text for fields without one)."""
    out: dict[str, Any] = {}
    for spec in FORM_FIELDS:
        if spec.multiple:
            out[spec.name] = list(spec.default or ())
        else:
            out[spec.name] = spec.default if spec.default is not None else ""
    return out


def _choices(enum: type[WireEnum]) -> str:
    return ", ".join(enum.choices())


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
        problems.append(
            FieldProblem(
                name, Msg("{value} is not one of {choices}", value=repr(value), choices=_choices(enum))
            )
        )
        return None
    problems.append(FieldProblem(name, Msg("must be a string, one of {choices}", choices=_choices(enum))))
    return None


def _check_enum_list(
    name: str, value: object, enum: type[E], problems: list[FieldProblem]
) -> tuple[E, ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        problems.append(FieldProblem(name, Msg("must be a list of {choices}", choices=_choices(enum))))
        return None
    items = list(value)
    if not items:
        problems.append(
            FieldProblem(name, Msg("must name at least one of {choices}", choices=_choices(enum)))
        )
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
    if not SWR_PATH_MIN <= len(value) <= SWR_PATH_MAX and _has_registry(value):
        problems.append(
            FieldProblem(
                "swr_path",
                Msg(
                    "must be {low} to {high} characters (it has {n})",
                    low=SWR_PATH_MIN,
                    high=SWR_PATH_MAX,
                    n=len(value),
                ),
            )
        )
    elif split_swr_path(value) is None:
        problems.append(FieldProblem("swr_path", swr_path_problem(value)))


def swr_path_problem(value: str) -> Msg:
    """What is wrong with an SWR path that does not parse, as specifically as can be said."""
    path = value.strip()
    if path != value:
        return Msg("must not start or end with spaces")
    if any(c.isspace() for c in path):
        return Msg("must not contain spaces")
    repo, _, tag = path.rpartition(":") if "@" not in path else (path, "", "")
    if "@" not in path and (not repo or "/" in tag):
        return Msg("needs a tag after ':' (for example :latest)")
    parts = (path.split("@")[0] if "@" in path else repo).split("/")
    if _has_registry(path):
        parts = parts[1:]
    if len(parts) < 2:
        return Msg("needs a namespace (organisation) before the image name: namespace/name:tag")
    if any(p != p.lower() for p in parts):
        return Msg("namespace and image name must be lower case")
    return Msg("must look like {help}", help=SWR_PATH_HELP)


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
        problems.append(FieldProblem("tags", Msg('must be a list of {"key": str, "value": str}')))
        return None
    pairs = tuple((str(t["key"]), str(t.get("value", ""))) for t in value)
    if len(pairs) > TAGS_MAX:
        problems.append(
            FieldProblem(
                "tags", Msg("must be at most {limit} tags (it has {n})", limit=TAGS_MAX, n=len(pairs))
            )
        )
    if any(not k or len(k) > TAG_KEY_MAX for k, _ in pairs):
        problems.append(FieldProblem("tags", Msg("each key must be 1 to {n} characters", n=TAG_KEY_MAX)))
    if any(len(v) > TAG_VALUE_MAX for _, v in pairs):
        problems.append(
            FieldProblem("tags", Msg("each value must be at most {n} characters", n=TAG_VALUE_MAX))
        )
    return pairs


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
    flavor_type: FlavorType | None = None
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
    """Parse raw register fields; return the request (or ``None``) and every problem found.

    Checks come from :data:`REGISTER_FIELD_TABLE` (enums, lists, lengths), plus the SWR path's
    grammar, the workspace id's form and the tags' shape.
    """
    problems: list[FieldProblem] = []
    for name in sorted(set(values) - set(REGISTER_FIELDS)):
        problems.append(FieldProblem(name, Msg("is not a register field")))
    if values.get("swr_path") in (None, ""):
        problems.append(FieldProblem("swr_path", Msg("is required ({help})", help=SWR_PATH_HELP)))
    parsed: dict[str, Any] = {}
    for spec in REGISTER_FIELD_TABLE:
        value = values.get(spec.name)
        if spec.name == "tags":
            parsed["tags"] = _check_tags(value, problems)
        elif spec.multiple and spec.enum is not None:
            parsed[spec.name] = _check_enum_list(spec.name, value, spec.enum, problems)
        elif spec.enum is not None:
            parsed[spec.name] = _check_enum(spec.name, value, spec.enum, problems)
        elif value is not None and not isinstance(value, str):
            problems.append(FieldProblem(spec.name, Msg("must be a string")))
        else:
            limit = spec.max_length
            # the SWR path's own check says more than a length
            if limit and isinstance(value, str) and len(value) > limit and spec.name != "swr_path":
                problems.append(
                    FieldProblem(
                        spec.name,
                        Msg("must be at most {limit} characters (it has {n})", limit=limit, n=len(value)),
                    )
                )
            parsed[spec.name] = value
    _check_swr_path(values.get("swr_path"), problems)
    workspace_id = values.get("workspace_id")
    if isinstance(workspace_id, str) and not WORKSPACE_ID_RE.match(workspace_id):
        problems.append(FieldProblem("workspace_id", Msg("must be {help}", help=WORKSPACE_ID_HELP)))
    if problems:
        return None, problems
    request = object.__new__(RegisterRequest)
    for name, value in parsed.items():
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

    def settles(self, before: object) -> bool:
        """This answer is where the image ``before`` described settled: same id, terminal now, not then."""
        return (
            self.is_terminal
            and isinstance(before, ImageRecord)
            and before.id == self.id
            and not before.is_terminal
        )

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


def register_again_fields(record: ImageRecord) -> dict[str, Any]:
    """The register fields a record came from (the register field table's ``record_attr``s).

    What the record does not carry (an empty description, no workspace) is left out, so the
    request gets the same defaults the first one had.
    """
    fields: dict[str, Any] = {}
    for spec in REGISTER_FIELD_TABLE:
        if spec.record_attr is None:
            continue
        value = getattr(record, spec.record_attr)
        if isinstance(value, tuple):
            if value:
                fields[spec.name] = [str(v) for v in value]
        elif isinstance(value, WireEnum):
            fields[spec.name] = value.value
        elif isinstance(value, str) and value:
            fields[spec.name] = value
    return fields


@dataclass(frozen=True)
class FieldDifference:
    """One field in which a registered image differs from a request for the same SWR path."""

    field: str  # the request's (wire) name
    label: str  # the field table's label
    existing: str  # the registered image's value, as text ("(none)" when unset)
    requested: str  # the request's value, as text


_NONE = Msg("(none)")


def _as_text(value: object) -> str:
    if value is None or value == "":
        return _NONE
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or _NONE
    return str(value)


def registered_differences(record: ImageRecord, request: RegisterRequest) -> tuple[FieldDifference, ...]:
    """The fields ``request`` sets that the registered ``record`` has otherwise.

    Only the fields the request sends are compared (one left out gets the service's default,
    whatever the image has); lists compare as sets, enums ignoring case.
    """
    asked = request.to_body()
    out: list[FieldDifference] = []
    for spec in REGISTER_FIELD_TABLE:
        if spec.record_attr is None or spec.name == "swr_path" or spec.name not in asked:
            continue
        wanted: Any = asked[spec.name]  # type: ignore[literal-required]
        existing: Any = getattr(record, spec.record_attr)
        if spec.multiple:
            same = {str(v).upper() for v in wanted} == {str(v).upper() for v in existing or ()}
        elif spec.enum is not None:
            same = str(wanted).upper() == str(existing or "").upper()
        else:
            same = _as_text(wanted) == _as_text(existing)
        if not same:
            out.append(FieldDifference(spec.name, spec.label, _as_text(existing), _as_text(wanted)))
    return tuple(out)


@dataclass(frozen=True)
class ImageGroup:
    """One row of the image group list: an image name and how many versions it has."""

    name: str
    version_count: int
    id: str | None = None
    namespace: str | None = None
    description: str | None = None
    create_at: datetime | None = None
    update_at: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ImageGroup:
        named = ("name", "version_count", "id", "namespace", "description", "create_at", "update_at")
        count = data.get("version_count")
        return cls(
            name=str(data.get("name", "")),
            version_count=count if isinstance(count, int) and not isinstance(count, bool) else 0,
            id=_optional_str(data.get("id")),
            namespace=_optional_str(data.get("namespace")),
            description=_optional_str(data.get("description")),
            create_at=ms_to_datetime(data.get("create_at")),
            update_at=ms_to_datetime(data.get("update_at")),
            extra={k: v for k, v in data.items() if k not in named},
        )


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# ---------------------------------------------------------------------------------------
# List filters

_LIST_QUERY_ENUMS: dict[str, type[WireEnum]] = {
    "service_type": ServiceType,
    "sort_dir": SortDir,
    "type": ImageType,
}
_LIST_QUERY_TEXT = (
    "name",
    "namespace",
    "workspace_id",
    "sort_key",
    "show_name",
    "show_tag",
    "swr_instance_id",
)
# Which filters each list takes (SDK ListImageRequest and ListImageGroupRequest): show_name and
# show_tag are preset (BUILD_IN) images' fields; swr_instance_id (enterprise SWR) filters groups.
_SHARED_FILTERS = frozenset({"name", "name_fuzzy_match", "namespace", "type", "workspace_id"})
LIST_FILTERS: dict[str, frozenset[str]] = {
    "image": _SHARED_FILTERS | {"service_type", "sort_dir", "sort_key", "show_name", "show_tag"},
    "group": _SHARED_FILTERS | {"swr_instance_id"},
}
# SDK ListImageRequest.sort_key: free text, at most 128 of letters, digits, '-', '_' and ','
# (several keys separated by commas); which keys the service supports is not documented.
SORT_KEY_RE = re.compile(r"^[A-Za-z0-9_,-]{1,128}$")
LIST_LIMIT_MAX = 200  # the API's default page size, and the largest page we ask for


@dataclass(frozen=True)
class ListFilters:
    """The filters of ``GET /v1/{project_id}/images`` and ``.../images/group`` (paging is the
    client's business); :meth:`query_for` sends those the chosen list takes.

    ``type`` left as ``None`` is not sent, and the service then lists BUILD_IN (its presets):
    :class:`~mai_widgets.services.images.ImageClient` always sets it.
    """

    name: str | None = None
    name_fuzzy_match: bool | None = None
    namespace: str | None = None
    service_type: ServiceType | None = None
    sort_dir: SortDir | None = None
    sort_key: str | None = None
    type: ImageType | None = None
    workspace_id: str | None = None
    show_name: str | None = None
    show_tag: str | None = None
    swr_instance_id: str | None = None

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
                    problems.append(FieldProblem(name, Msg("must be true or false")))
                out[name] = value
            elif name in _LIST_QUERY_TEXT:
                if not isinstance(value, str) or not value:
                    problems.append(FieldProblem(name, Msg("must be a non-empty string")))
                elif name == "sort_key" and not SORT_KEY_RE.match(value):
                    problems.append(
                        FieldProblem(
                            name,
                            Msg(
                                "must be at most 128 letters, digits, '-', '_' or ',' (keys, comma-separated)"
                            ),
                        )
                    )
                out[name] = value
            else:
                problems.append(FieldProblem(name, Msg("is not a list filter")))
        if problems:
            raise ValidationError(problems)
        return cls(**out)

    def replace(self, **changes: Any) -> ListFilters:
        return replace(self, **changes)

    def to_query(self) -> dict[str, str]:
        query: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            query[f.name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return query

    def query_for(self, kind: Literal["image", "group"]) -> dict[str, str]:
        """:meth:`to_query` for the ``"image"`` or ``"group"`` list; a filter it does not take is
        a :class:`ValidationError` (sent, the service would ignore it and list too much)."""
        query = self.to_query()
        allowed = LIST_FILTERS[kind]
        problems = [
            FieldProblem(n, Msg("is not a filter of the {kind} list", kind=kind))
            for n in sorted(set(query) - allowed)
        ]
        if self.type == ImageType.DEDICATED:
            problems += [
                FieldProblem(n, Msg("filters preset images only: list with type BUILD_IN"))
                for n in ("show_name", "show_tag")
                if n in query and n in allowed
            ]
        if problems:
            raise ValidationError(problems)
        return query
