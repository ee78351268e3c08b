"""The ModelArts image routes: ``/v1/{project_id}/images`` and below (seeded faults may hit them)."""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Callable
from typing import Any

from tornado.web import RequestHandler

from ..wire.contract import (
    IMAGE_ID_RE,
    ImageType,
    ServiceType,
    SortDir,
    ValidationError,
    split_swr_path,
)
from ..wire.contract import RegisterRequest as _RegisterRequest
from .base import (
    ApiFailure,
    BaseHandler,
    EmulatorState,
    Reply,
    bad_param,
    error_body,
    image_not_found,
    log,
    parse_bool,
    parse_enum,
    parse_int,
    parse_sort_keys,
)
from .faults import Fault
from .store import AlreadyRegistered, ListQuery


class ImageRouteHandler(BaseHandler):
    """Base of the ``/v1/{project_id}/images...`` handlers: faults, then auth, then the operation."""

    async def serve(self, project_id: str, operation: Callable[[], Reply]) -> None:
        fault = self.state.faults.draw() if self.state.faults else None
        if fault is not None:
            self.set_header("X-Emulator-Fault", fault.label)
            log.info("injecting fault %s", fault.label)
        if fault is not None and not fault.after:
            if fault.kind != "slow":
                self.apply_fault(fault)
                return
            await asyncio.sleep(self.state.settings.slow_seconds)
        try:
            self.authenticate(project_id)
            self.check_project(project_id)
            reply = operation()
        except ApiFailure as exc:
            reply = self.failure_reply(exc)
        if fault is not None and fault.after:
            if fault.kind != "slow":
                self.apply_fault(fault)
                return
            await asyncio.sleep(self.state.settings.slow_seconds)
        if reply.status == 204:
            self.set_status(204)
            self.finish()
            return
        self.send_reply(reply)

    def apply_fault(self, fault: Fault) -> None:
        if fault.kind == "drop":
            self.detach().close()
            return
        if fault.kind == "malformed":
            self.set_status(200)
            self.finish('{"id": "00000000-0000-0000-0000-0000000000')
            return
        if fault.kind == "429":
            retry = str(self.state.settings.retry_after)
            self.send_reply(
                Reply(
                    429,
                    error_body("APIG.0308", "The throttling threshold has been reached."),
                    {"Retry-After": retry},
                )
            )
            return
        if fault.kind == "503":
            self.send_reply(Reply(503, error_body("ModelArts.0053", "Service temporarily unavailable.")))
            return
        self.send_reply(Reply(500, error_body("ModelArts.0050", "Internal server error.")))

    def not_found(self, image_id: str) -> ApiFailure:
        return image_not_found(self.state.settings.image_not_found_code, image_id)

    def checked_image_id(self, image_id: str) -> str:
        if not IMAGE_ID_RE.match(image_id):
            raise bad_param("image id must be letters, digits, '-' and '_' only")
        return image_id

    def list_query(self, *, images: bool) -> ListQuery:
        args: dict[str, str] = {}
        for name in self.request.query_arguments:
            args[name] = self.get_query_argument(name, strip=False)  # as sent: " 5" is no integer
        values: dict[str, Any] = {}
        if "limit" in args:
            values["limit"] = parse_int("limit", args["limit"], 1)
        if "offset" in args:
            values["offset"] = parse_int("offset", args["offset"], 0)
        if args.get("name"):
            if len(args["name"]) > 512:
                raise bad_param("name must be at most 512 characters")
            values["name"] = args["name"]
        if "name_fuzzy_match" in args:
            values["name_fuzzy_match"] = parse_bool("name_fuzzy_match", args["name_fuzzy_match"])
        for name in ("namespace", "workspace_id"):
            if args.get(name):
                values[name] = args[name]
        if "type" in args:
            values["type"] = parse_enum("type", args["type"], ImageType)
        if images:
            if args.get("service_type"):
                values["service_type"] = parse_enum("service_type", args["service_type"], ServiceType)
            if args.get("sort_dir"):
                values["sort_dir"] = parse_enum("sort_dir", args["sort_dir"], SortDir)
            if "sort_key" in args:
                keys = parse_sort_keys(args["sort_key"])
                if keys:
                    values["sort_keys"] = keys
            for name in ("show_name", "show_tag"):
                if args.get(name):
                    values[name] = args[name]
        elif args.get("swr_instance_id"):
            values["swr_instance_id"] = args["swr_instance_id"]
        return ListQuery(**values)

    @staticmethod
    def page(query: ListQuery, data: list[Any], total: int) -> dict[str, Any]:
        return {
            "current": query.offset // query.limit + 1,
            "data": data,
            "pages": math.ceil(total / query.limit),
            "size": len(data),
            "total": total,
        }


def image_size_kb(swr_path: str) -> int:
    # A stable, plausible image size (1-6 GiB) so repeated runs look the same.
    digest = int.from_bytes(hashlib.sha256(swr_path.encode()).digest()[:4], "big")
    return 1_048_576 + digest % (5 * 1_048_576)


class ImagesHandler(ImageRouteHandler):
    """``POST`` (register) and ``GET`` (list) on ``/v1/{project_id}/images``."""

    async def post(self, project_id: str) -> None:
        await self.serve(project_id, lambda: self.register(project_id))

    async def get(self, project_id: str) -> None:
        await self.serve(project_id, lambda: self.list_images(project_id))

    def register(self, project_id: str) -> Reply:
        settings = self.state.settings
        body = self.json_body(required=True)
        if not isinstance(body, dict):
            raise bad_param("the request body must be a JSON object")
        try:
            request = _RegisterRequest.from_body(body)
        except ValidationError as exc:
            raise ApiFailure(400, "ModelArts.0104", f"Invalid parameter: {exc.message}") from None
        parts = split_swr_path(request.swr_path) or {}
        namespace = parts.get("namespace", "")
        if namespace == settings.forbidden_namespace:
            raise ApiFailure(
                400,
                "ModelArts.2885",
                f"ModelArts has no permission to access the SWR organization {namespace}.",
            )
        fail_reason = None
        if not self.state.swr_catalogue.has(request.swr_path):  # the live SWR: pushes and forced deletes
            fail_reason = (
                f"SWR image {request.swr_path} was not found: check the path and that the image was pushed."
            )
        try:
            record = self.state.store.register(
                project_id,
                request,
                now_ms=self.state.clock(),
                init_ms=round(settings.init_seconds * 1000),
                creating_ms=round(settings.creating_seconds * 1000),
                size_kb=image_size_kb(request.swr_path),
                fail_reason=fail_reason,
            )
        except AlreadyRegistered:
            raise _already_registered(settings.already_registered_code, parts) from None
        return Reply(200, record)

    def list_images(self, project_id: str) -> Reply:
        query = self.list_query(images=True)
        data, total = self.state.store.list_page(project_id, query, self.state.clock())
        return Reply(200, self.page(query, list(data), total))


def _already_registered(code: str, parts: dict[str, str]) -> ApiFailure:
    """400 with ``--already-registered-code``; the texts are ModelArts' published messages."""
    if code == "ModelArts.6737":
        tag = parts.get("tag") or parts.get("digest", "")
        return ApiFailure(400, code, f"Conflict tag {tag} for image {parts.get('name', '')}")
    return ApiFailure(400, code, "image tag and image name is exist")


class ImageGroupHandler(ImageRouteHandler):
    """``GET /v1/{project_id}/images/group``: one row per (namespace, name)."""

    async def get(self, project_id: str) -> None:
        await self.serve(project_id, lambda: self.groups(project_id))

    async def delete(self, project_id: str) -> None:
        # There is no image called "group": answer as the image route would.
        await self.serve(project_id, lambda: self._missing())

    def _missing(self) -> Reply:
        raise self.not_found("group")

    def groups(self, project_id: str) -> Reply:
        # (u) SDK ListImageGroupRequest.type documents no default; the image list's (BUILD_IN) is used.
        query = self.list_query(images=False)
        data, total = self.state.store.groups(project_id, query, self.state.clock())
        return Reply(200, {**self.page(query, data, total), "is_swr_enterprise": False})


class ImageHandler(ImageRouteHandler):
    """``GET`` (show) and ``DELETE`` on ``/v1/{project_id}/images/{id}``."""

    async def get(self, project_id: str, image_id: str) -> None:
        await self.serve(project_id, lambda: self.show(project_id, image_id))

    async def delete(self, project_id: str, image_id: str) -> None:
        await self.serve(project_id, lambda: self.remove(project_id, image_id))

    def show(self, project_id: str, image_id: str) -> Reply:
        self.checked_image_id(image_id)
        record = self.state.store.get(project_id, image_id, self.state.clock())
        if record is None:
            raise self.not_found(image_id)
        return Reply(200, record)

    def remove(self, project_id: str, image_id: str) -> Reply:
        self.checked_image_id(image_id)
        now = self.state.clock()
        force = False
        text = self.get_query_argument("force", None)
        if text is not None:
            force = parse_bool("force", text)
        body = self.json_body(required=False)
        if body is not None:
            if not isinstance(body, dict):
                raise bad_param("the request body must be a JSON object")
            is_force = body.get("is_force")
            if is_force is not None and not isinstance(is_force, bool):
                raise bad_param("is_force must be true or false")
            force = force or bool(is_force)
        store = self.state.store
        existing = store.get(project_id, image_id, now)
        if existing is not None and existing.get("type") == "BUILD_IN":
            # (u) Undocumented; the documented generic parameter error rather than an invented code.
            raise bad_param(f"image {image_id} is a preset (BUILD_IN) image and cannot be deleted")
        record = store.delete(project_id, image_id, now, force=force)
        if record is None:
            raise self.not_found(image_id)
        if force:
            # The real forced delete also deletes the image's content in SWR.
            store.forget_swr_image(record["swr_path"], now)
            self.state.swr_catalogue.remove(record["swr_path"])
        if self.state.settings.delete_answer == "204":
            return Reply(204, None)
        return Reply(200, record)


class ImageSyncHandler(ImageRouteHandler):
    """``POST /v1/{project_id}/images/{id}/sync``: re-reads the status (computed, so always right)."""

    async def post(self, project_id: str, image_id: str) -> None:
        await self.serve(project_id, lambda: self.sync(project_id, image_id))

    def sync(self, project_id: str, image_id: str) -> Reply:
        self.checked_image_id(image_id)
        record = self.state.store.get(project_id, image_id, self.state.clock())
        if record is None or record.get("status") == "DELETED":
            raise self.not_found(image_id)
        return Reply(200, record)


# -- IAM routes (never faulty) ---------------------------------------------------------------


def modelarts_routes(state: EmulatorState) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    kw = {"state": state}
    project = r"/v1/([^/]+)"
    return [
        (rf"{project}/images/?", ImagesHandler, kw),
        (rf"{project}/images/group/?", ImageGroupHandler, kw),
        (rf"{project}/images/([^/]+)/sync/?", ImageSyncHandler, kw),
        (rf"{project}/images/([^/]+)/?", ImageHandler, kw),
    ]
