"""The ModelArts notebook routes: list and show instances, and save one as an image.

``GET /v1/{project_id}/notebooks``, ``GET .../notebooks/{id}`` and
``POST .../notebooks/{id}/create-image``, behind the same faults, authentication and error answers
as the image routes. A save makes an ordinary image record (origin IMAGE_SAVE, type DEDICATED)
that walks INIT -> CREATING -> ACTIVE while the instance is SNAPSHOTTING (``--snapshot-seconds``);
then the instance is RUNNING again on the new image, which is in the emulator's SWR with the
platforms and user of the image the instance ran. ``--save-too-large`` makes every save end
CREATE_FAILED, as an environment over the size limit does.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import uuid
from datetime import datetime, timezone
from typing import Any

from tornado.web import RequestHandler

from ..wire.contract import IMAGE_ID_RE, Origin, RegisterRequest, SortDir, ValidationError
from ..wire.notebooks import (
    NOTEBOOK_LIST_LIMITS,
    NotebookStatus,
    SaveImageRequest,
    default_save_tag,
)
from .base import ApiFailure, EmulatorState, Reply, bad_param, echo, parse_enum, parse_int
from .defaults import DEFAULTS, PRESET_IMAGES, PRESET_NAMESPACE, SwrImageSpec, notebook_id_for
from .modelarts import ImageRouteHandler, image_size_kb
from .store import AlreadyRegistered
from .swr import push_refusal

__all__ = ["install_notebooks", "notebook_routes"]

FLAVOR = "modelarts.vm.cpu.2u"  # a CPU flavor of the public list (cosmetic)
LEASE_MS = 4 * 3600 * 1000  # instances stop by themselves after 4 hours unless renewed
# What the published error table answers when an instance is in the wrong state to save.
_STATE_ERRORS: dict[str, tuple[str, str]] = {
    "STARTING": ("ModelArts.6306", "The notebook is starting."),
    "STOPPING": ("ModelArts.6308", "The notebook is stopping."),
    "SNAPSHOTTING": ("ModelArts.6357", "Another operation is in progress on the notebook."),
    "FROZEN": ("ModelArts.6326", "The notebook is frozen."),
}
# (u) Undocumented threshold; the message is the FAQ title's wording.
TOO_LARGE_REASON = "container size 41G is greater than threshold 35G"
_ALL_ARGS_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def _preset_id(registry: str, name: str) -> str:
    preset = next(p for p in PRESET_IMAGES if p.name == name)
    swr_path = f"{registry}/{PRESET_NAMESPACE}/{preset.name}:{preset.tag}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mai-widgets-preset/{swr_path}"))  # as install_presets


def install_notebooks(state: EmulatorState, now_ms: int) -> None:
    """Seed the demo instance and ``--notebook`` ones, and put saved images back into SWR."""
    settings = state.settings
    image = {"id": _preset_id(state.swr_catalogue.registry, DEFAULTS.demo_notebook_image)}
    seeds = [(DEFAULTS.demo_notebook, "RUNNING", DEFAULTS.demo_notebook_ip)]
    # a seed without an ip gets one of TEST-NET-3 (never this machine's)
    seeds += [(s.name, s.status, s.ip or f"203.0.113.{10 + i}") for i, s in enumerate(settings.notebooks)]
    for name, status, ip in seeds:
        state.store.seed_notebook(
            settings.project_id, notebook_id_for(settings.project_id, name), name, status, ip, image, now_ms
        )
    for spec in state.store.saved_image_specs():
        state.swr_catalogue.add(_spec_from_json(spec))


def _spec_from_json(data: dict[str, Any]) -> SwrImageSpec:
    return SwrImageSpec(
        str(data["path"]),
        platforms=tuple(data["platforms"]),
        user=str(data["user"]),
        size=int(data["size"]),
        pushed=str(data["pushed"]),
    )


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class NotebookRouteHandler(ImageRouteHandler):
    """Faults, then authentication, as the image routes; and the instance record."""

    def instance(self, project_id: str, notebook_id: str) -> sqlite3.Row:
        if not IMAGE_ID_RE.match(notebook_id):
            raise bad_param("notebook id must be letters, digits, '-' and '_' only")
        row = self.state.store.notebook_row(project_id, notebook_id)
        if row is None or row["status"] == "DELETED":
            raise ApiFailure(400, "ModelArts.6309", f"Notebook {notebook_id} does not exist.")
        return row

    def current(self, project_id: str, row: sqlite3.Row, now: int) -> tuple[str, str]:
        """(status, image id) of an instance at ``now``: SNAPSHOTTING while saving, then on the
        saved image if it became ACTIVE."""
        until = row["snapshot_until"]
        image_id = str(json.loads(row["image"])["id"])
        if until is not None and now < int(until):
            return "SNAPSHOTTING", image_id
        saved = row["saved_image_id"]
        if saved is not None:
            record = self.state.store.get(project_id, str(saved), now)
            if record is not None and record.get("status") == "ACTIVE":
                image_id = str(saved)
        return str(row["status"]), image_id

    def record(self, project_id: str, row: sqlite3.Row, now: int) -> dict[str, Any]:
        """The instance as the SDK's ``NotebookResp`` names it (no ``token``)."""
        status, image_id = self.current(project_id, row, now)
        image = self.state.store.get(project_id, image_id, now)
        settings = self.state.settings
        created = int(row["create_at"])
        progress = []
        if status == "SNAPSHOTTING":
            progress = [{"step": 1, "status": "PROCESSING", "description": "saving the instance as an image"}]
        return {
            "id": row["id"],
            "name": row["name"],
            "description": "",
            "status": status,
            "fail_reason": "",
            "action_progress": progress,
            "image": dict(image) if image is not None else {"id": image_id},
            "flavor": FLAVOR,
            "url": f"https://authoring-modelarts-{settings.region}.huaweicloud.com/{row['id']}/lab",
            "ip": row["ip"],
            "workspace_id": "0",
            "feature": "NOTEBOOK",
            "user": {"id": "0" * 32, "name": settings.iam_user},
            "lease": {
                "create_at": created,
                "duration": LEASE_MS,
                "enable": True,
                "type": "TIMING",
                "update_at": created,
            },
            "volume": {
                "category": "EFS",
                "mount_path": "/home/ma-user/work",
                "capacity": 50,
                "ownership": "MANAGED",
            },
            "endpoints": [],
        }


class NotebooksHandler(NotebookRouteHandler):
    """``GET /v1/{project_id}/notebooks``: filters and paging as SDK ``ListNotebooksRequest``."""

    async def get(self, project_id: str) -> None:
        await self.serve(project_id, lambda: self.listing(project_id))

    def listing(self, project_id: str) -> Reply:
        args = {name: self.get_query_argument(name, strip=False) for name in self.request.query_arguments}
        limit = parse_int("limit", args["limit"], 1) if "limit" in args else NOTEBOOK_LIST_LIMITS[0]
        if limit not in NOTEBOOK_LIST_LIMITS:
            raise bad_param(f"limit must be one of {', '.join(map(str, NOTEBOOK_LIST_LIMITS))}")
        offset = parse_int("offset", args["offset"], 0) if "offset" in args else 0
        status = parse_enum("status", args["status"], NotebookStatus) if args.get("status") else None
        direction = parse_enum("sort_dir", args["sort_dir"], SortDir) if args.get("sort_dir") else "DESC"
        descending = direction == "DESC"
        exact = {}
        for name in ("id", "ip", "image_id", "workspace_id", "feature"):
            if args.get(name):
                if not _ALL_ARGS_RE.match(args[name]):
                    raise bad_param(f"{name} is not valid")
                exact[name] = args[name]
        image_filter = exact.pop("image_id", None)
        fuzzy = args.get("name") or None
        if fuzzy is not None and len(fuzzy) > 128:
            raise bad_param("name must be at most 128 characters")
        now = self.state.clock()
        rows = self.state.store.notebook_rows(project_id)
        found = []
        for row in rows if not descending else reversed(rows):
            if row["status"] == "DELETED":
                continue
            record = self.record(project_id, row, now)
            if status is not None and record["status"] != status:
                continue
            if fuzzy is not None and fuzzy.lower() not in str(record["name"]).lower():
                continue
            if image_filter is not None and record["image"].get("id") != image_filter:
                continue
            if any(str(record.get(k)) != v for k, v in exact.items()):
                continue
            found.append(record)
        page = found[offset : offset + limit]
        return Reply(
            200,
            {
                "current": offset // limit + 1,
                "pages": math.ceil(len(found) / limit),
                "size": len(page),
                "total": len(found),
                "data": page,
            },
        )


class NotebookHandler(NotebookRouteHandler):
    """``GET /v1/{project_id}/notebooks/{id}``."""

    async def get(self, project_id: str, notebook_id: str) -> None:
        await self.serve(project_id, lambda: self.show(project_id, notebook_id))

    def show(self, project_id: str, notebook_id: str) -> Reply:
        row = self.instance(project_id, notebook_id)
        return Reply(200, self.record(project_id, row, self.state.clock()))


class NotebookSaveHandler(NotebookRouteHandler):
    """``POST /v1/{project_id}/notebooks/{id}/create-image`` (SDK ``CreateImageRequest``)."""

    async def post(self, project_id: str, notebook_id: str) -> None:
        await self.serve(project_id, lambda: self.save(project_id, notebook_id))

    def save(self, project_id: str, notebook_id: str) -> Reply:
        state, settings, store = self.state, self.state.settings, self.state.store
        row = self.instance(project_id, notebook_id)
        body = self.json_body(required=True)
        if not isinstance(body, dict):
            raise bad_param("the request body must be a JSON object")
        try:
            request = SaveImageRequest.from_body(body)
        except ValidationError as exc:
            raise ApiFailure(400, "ModelArts.0104", f"Invalid parameter: {exc.message}") from None
        now = state.clock()
        status, image_id = self.current(project_id, row, now)
        if status != "RUNNING":
            code, message = _STATE_ERRORS.get(status, ("ModelArts.6327", "The notebook is not running."))
            raise ApiFailure(400, code, message)
        refusal = push_refusal(state, request.namespace)
        if refusal is not None:
            # (u) Which code answers a missing or read-only organization is not published; 2885 is
            # the image routes' "no access to the SWR organization".
            raise ApiFailure(400, "ModelArts.2885", f"Cannot write to the SWR organization: {refusal}")
        catalogue = state.swr_catalogue
        repo = catalogue.repository(request.namespace, request.name)
        # (u) What the service does without a tag is not documented: a date-and-time tag here.
        tag = request.tag or default_save_tag(repo.tags if repo else (), datetime.now(timezone.utc))
        swr_path = f"{catalogue.registry}/{request.namespace}/{request.name}:{tag}"
        if catalogue.has(swr_path) or store.live_id_for_swr_path(project_id, swr_path) is not None:
            raise _tag_conflict(tag, request.name)
        running = store.get(project_id, image_id, now) or {}
        spec = self._spec_of(str(running.get("swr_path", "")), str(running.get("arch", "x86_64")))
        snapshot_ms = round(settings.snapshot_seconds * 1000)
        init_ms = min(round(settings.init_seconds * 1000), snapshot_ms // 2)
        register = RegisterRequest.create(
            swr_path=swr_path,
            arch="AARCH64" if str(running.get("arch", "")).lower() == "aarch64" else "X86_64",
            origin=Origin.IMAGE_SAVE.value,
            description=request.description,
            workspace_id=request.workspace_id,
        )
        try:
            record = store.register(
                project_id,
                register,
                now_ms=now,
                init_ms=init_ms,
                creating_ms=snapshot_ms - init_ms,  # ACTIVE as the instance leaves SNAPSHOTTING
                size_kb=image_size_kb(swr_path),
                fail_reason=TOO_LARGE_REASON if settings.save_too_large else None,
            )
        except AlreadyRegistered:
            raise _tag_conflict(tag, request.name) from None
        saved = {**spec, "path": swr_path, "pushed": _iso(now)}
        store.start_snapshot(
            project_id,
            notebook_id,
            image={"id": image_id},
            until_ms=now + snapshot_ms,
            saved_image_id=record["id"],
            saved_image={"id": record["id"]},
            swr_spec=saved,
        )
        if not settings.save_too_large:
            store.remember_swr_image(swr_path)
            catalogue.add(_spec_from_json(saved))
        return Reply(200, record)

    def _spec_of(self, swr_path: str, arch: str) -> dict[str, Any]:
        """Platforms, user and size of the image an instance runs (for the image saved from it)."""
        for spec in self.state.settings.swr_images:
            if spec.path == swr_path:
                return {"platforms": list(spec.platforms), "user": spec.user, "size": spec.size}
        for saved in self.state.store.saved_image_specs():
            if saved["path"] == swr_path:
                return {k: saved[k] for k in ("platforms", "user", "size")}
        # a preset: its architecture, run by ModelArts' notebook user
        platform = "linux/arm64/v8" if arch.lower() == "aarch64" else "linux/amd64"
        return {"platforms": [platform], "user": "ma-user", "size": 6 * (1 << 30)}


def _tag_conflict(tag: str, name: str) -> ApiFailure:
    # The published message of 6737 (Terraform acceptance tests quote it).
    return ApiFailure(
        400, "ModelArts.6737", f"Conflict tag {echo(tag)} for image {echo(name)}, tag cannot be duplicated."
    )


def notebook_routes(state: EmulatorState) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    kw = {"state": state}
    project = r"/v1/([^/]+)"
    return [
        (rf"{project}/notebooks/?", NotebooksHandler, kw),
        (rf"{project}/notebooks/([^/]+)/create-image/?", NotebookSaveHandler, kw),
        (rf"{project}/notebooks/([^/]+)/?", NotebookHandler, kw),
    ]
