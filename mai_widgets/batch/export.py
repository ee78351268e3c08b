"""``export``: the user's DEDICATED images as a file that :func:`~mai_widgets.batch.apply` takes.

Each image is written with the fields it was registered with, less those equal to the field
table's defaults (applying the file gives them again). A path on this region's registry is
written without its host, so the file applied in another region gets that region's registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import FieldProblem, ValidationError
from ..services.images import ImageClient
from ..wire.contract import (
    REGISTER_FIELD_TABLE,
    ImageStatus,
    register_again_fields,
    swr_registry,
)
from .file import BatchFile
from .plan import session_for

if TYPE_CHECKING:
    from ..services.session import Session

__all__ = ["export"]


def _statuses(status: str | Iterable[str] | None) -> set[ImageStatus] | None:
    if status is None:
        return None
    wanted = [status] if isinstance(status, str) else list(status)
    try:
        return {ImageStatus(s) for s in wanted}
    except ValueError:
        choices = ", ".join(ImageStatus.choices())
        raise ValidationError([FieldProblem("status", f"must be one or more of {choices}")]) from None


def _without_defaults(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in REGISTER_FIELD_TABLE:
        if spec.name not in fields:
            continue
        value = fields[spec.name]
        default = spec.default
        if spec.multiple and default is not None and {str(v).upper() for v in value} == set(default):
            continue
        if not spec.multiple and default is not None and str(value).upper() == str(default).upper():
            continue
        out[spec.name] = value
    return out


def export(
    *,
    session: Session | None = None,
    name: str | None = None,
    status: str | Iterable[str] | None = None,
    workspace_id: str | None = None,
    timeout: float | None = None,
) -> BatchFile:
    """The user's DEDICATED images as a file, in SWR path order.

    ``name`` filters as the image list does (part of the image name); ``status`` keeps only
    images in those statuses (default: every one but DELETED); ``workspace_id`` lists that
    workspace (default: the configured one). Raises the client's typed errors.
    """
    wanted = _statuses(status)
    client = session_for(session).client(ImageClient)
    region_host = swr_registry(client.config.region) + "/"
    records = client.list(type="DEDICATED", name=name, workspace_id=workspace_id, timeout=timeout)
    images: list[dict[str, Any]] = []
    for record in sorted(records, key=lambda r: r.swr_path or ""):
        keep = record.status != ImageStatus.DELETED if wanted is None else record.status in wanted
        if not keep or not record.swr_path:
            continue
        fields = _without_defaults(register_again_fields(record))
        path = record.swr_path
        fields["swr_path"] = path[len(region_host) :] if path.startswith(region_host) else path
        images.append({"swr_path": fields.pop("swr_path"), **fields})
    return BatchFile.of(images, source="export")
