"""The emulator's sqlite store: images and IAM tokens under ``--data-dir``.

Every write commits before the server answers, with ``synchronous=FULL``, so a registration
that was acknowledged survives ``kill -9``. Status is never stored: it is computed from the
registration time and the per-image lifecycle durations, so it keeps moving across restarts.

The service's preset images (type BUILD_IN) live in the same table under no project and are
visible from every project; the user's registrations are type DEDICATED.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from ..wire.contract import ImageWire, RegisterRequest, split_swr_path
from .defaults import PRESET_IMAGES, PRESET_NAMESPACE

DB_FILE = "modelarts-emulator.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    swr_path TEXT NOT NULL,
    name TEXT NOT NULL,
    namespace TEXT NOT NULL,
    tag TEXT NOT NULL,
    arch TEXT NOT NULL,
    description TEXT NOT NULL,
    origin TEXT NOT NULL,
    resource_categories TEXT NOT NULL,
    dev_services TEXT NOT NULL,
    service_type TEXT NOT NULL,
    visibility TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    type TEXT NOT NULL,
    size INTEGER NOT NULL,
    extra TEXT NOT NULL,
    create_at INTEGER NOT NULL,
    init_ms INTEGER NOT NULL,
    creating_ms INTEGER NOT NULL,
    fail_reason TEXT,
    deleted_at INTEGER,
    delete_message TEXT
);
-- At most one live registration per SWR path: the database, not a race-prone check, says 2884.
CREATE UNIQUE INDEX IF NOT EXISTS images_live_swr ON images(project_id, swr_path) WHERE deleted_at IS NULL;
-- The default list order (newest first) and the name/namespace filters read these.
CREATE INDEX IF NOT EXISTS images_live_created ON images(project_id, create_at, seq) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS images_live_name ON images(project_id, name, create_at) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS images_live_ns ON images(project_id, namespace, create_at)
    WHERE deleted_at IS NULL;
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
-- Notebook instances. Their status while saving is computed (snapshot_until), as images' is;
-- ``image`` is the image sub-record it runs, ``saved_image_id`` the image a save is making.
CREATE TABLE IF NOT EXISTS notebooks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    ip TEXT NOT NULL,
    image TEXT NOT NULL,
    create_at INTEGER NOT NULL,
    snapshot_until INTEGER,
    saved_image_id TEXT,
    saved_image TEXT
);
-- What SWR holds for an image saved from a notebook (platforms and user of the instance's image).
CREATE TABLE IF NOT EXISTS saved_images (
    image_id TEXT PRIMARY KEY,
    swr_path TEXT NOT NULL,
    spec TEXT NOT NULL
);
-- SWR images whose content a forced delete removed: they no longer "exist" in SWR.
CREATE TABLE IF NOT EXISTS swr_deleted (
    swr_path TEXT PRIMARY KEY,
    deleted_at INTEGER NOT NULL
);
"""

_COLUMNS = (
    "id, swr_path, name, namespace, tag, arch, description, origin, resource_categories, dev_services, "
    "service_type, visibility, workspace_id, type, size, extra, create_at, init_ms, creating_ms, "
    "fail_reason, deleted_at, delete_message"
)

# SQL below is assembled only from constants; values always go in as parameters.
_INSERT = f"INSERT INTO images ({_COLUMNS}, project_id) VALUES ({', '.join('?' * 23)})"  # noqa: S608

_GROUPED = (
    "SELECT name, namespace, COUNT(*) AS version_count, MIN(create_at) AS first_at, "
    "MAX(create_at) AS last_at, MAX(seq) AS last_seq FROM images WHERE {where} GROUP BY namespace, name"
)
# Presets belong to no project: every project sees them.
PRESET_PROJECT = ""
_SELECT_ONE = (
    f"SELECT {_COLUMNS} FROM images WHERE id = ? "  # noqa: S608
    f"AND (project_id = ? OR project_id = '{PRESET_PROJECT}')"
)

# Status and update_at as SQL, for sorting by them; must agree with ``_lifecycle`` below.
_STATUS_SQL = (
    "(CASE WHEN deleted_at IS NOT NULL THEN 'DELETED' WHEN :now < create_at + init_ms THEN 'INIT' "
    "WHEN fail_reason IS NOT NULL THEN 'CREATE_FAILED' "
    "WHEN :now < create_at + init_ms + creating_ms THEN 'CREATING' ELSE 'ACTIVE' END)"
)
_UPDATE_AT_SQL = (
    "(CASE WHEN deleted_at IS NOT NULL THEN deleted_at WHEN :now < create_at + init_ms THEN create_at "
    "WHEN fail_reason IS NOT NULL THEN create_at + init_ms "
    "WHEN :now < create_at + init_ms + creating_ms THEN create_at + init_ms "
    "ELSE create_at + init_ms + creating_ms END)"
)
# sort_key names the emulator knows, to columns; the docs' own example is camelCase ``updateTime``.
SORT_COLUMNS: dict[str, str] = {
    "create_at": "create_at",
    "createTime": "create_at",
    "name": "name",
    "size": "size",
    "status": _STATUS_SQL,
    "update_at": _UPDATE_AT_SQL,
    "updateTime": _UPDATE_AT_SQL,
}

# SDK ListImageRequest.type: "default BUILD_IN" (3.1.219 docstring), so a list without type shows presets.
DEFAULT_LIST_TYPE = "BUILD_IN"
# Preset (BUILD_IN) records alone carry show_name and show_tag (here their name and tag); the
# list's show_name/show_tag filters therefore match presets only.
SHOW_COLUMNS = {"show_name": "name", "show_tag": "tag"}
# Fields of the SDK's image record (ShowImageResponse) kept from the stored extras; read_me is a
# group field only (ImageGroup), so it is stored but not shown on an image.
_RECORD_EXTRAS = ("flavor_type", "swr_instance_id", "tags")

STATUS_MESSAGES = {
    "INIT": "image registration accepted, waiting for the SWR image check",
    "CREATING": "reading the image manifest from SWR",
    "ACTIVE": "image registered",
}


class AlreadyRegistered(Exception):
    """The SWR path has a live registration (ModelArts.2884)."""

    def __init__(self, image_id: str) -> None:
        super().__init__(image_id)
        self.image_id = image_id


@dataclass(frozen=True)
class ListQuery:
    """A validated image list query (the server builds it from the query string)."""

    limit: int = 200
    offset: int = 0
    name: str | None = None
    name_fuzzy_match: bool = True
    namespace: str | None = None
    service_type: str | None = None
    type: str = DEFAULT_LIST_TYPE
    # The service lists workspace "0" unless asked for another (SDK ListImageRequest.workspace_id).
    workspace_id: str = "0"
    show_name: str | None = None
    show_tag: str | None = None
    swr_instance_id: str | None = None  # groups only (SDK ListImageGroupRequest)
    sort_keys: tuple[str, ...] = ("create_at",)
    sort_dir: str = "DESC"


@dataclass(frozen=True)
class TokenInfo:
    project_id: str
    user_name: str
    expires_at_ms: int


def _lifecycle(row: sqlite3.Row, now_ms: int) -> tuple[str, int, str]:
    """(status, update_at, status_message) of a stored image at ``now_ms``."""
    created = int(row["create_at"])
    ready_at = created + int(row["init_ms"])
    if row["deleted_at"] is not None:
        return "DELETED", int(row["deleted_at"]), str(row["delete_message"] or "image deleted")
    if now_ms < ready_at:
        return "INIT", created, STATUS_MESSAGES["INIT"]
    if row["fail_reason"] is not None:
        return "CREATE_FAILED", ready_at, str(row["fail_reason"])
    active_at = ready_at + int(row["creating_ms"])
    if now_ms < active_at:
        return "CREATING", ready_at, STATUS_MESSAGES["CREATING"]
    return "ACTIVE", active_at, STATUS_MESSAGES["ACTIVE"]


def _row_to_wire(row: sqlite3.Row, now_ms: int, *, listed: bool = False) -> ImageWire:
    """The record as the SDK's models name it; ``listed``: a list item (ImageResponse), which
    has no ``support_res_categories``."""
    status, update_at, message = _lifecycle(row, now_ms)
    categories = json.loads(row["resource_categories"])
    record: dict[str, Any] = {
        "arch": row["arch"],
        "create_at": int(row["create_at"]),
        "description": row["description"],
        "dev_services": json.loads(row["dev_services"]),
        "id": row["id"],
        "name": row["name"],
        "namespace": row["namespace"],
        "origin": row["origin"],
        "resource_categories": categories,
        "service_type": row["service_type"],
        "size": int(row["size"]) if status in ("ACTIVE", "DELETED") else 0,
        "status": status,
        "status_message": message,
        "swr_path": row["swr_path"],
        "tag": row["tag"],
        "type": row["type"],
        "update_at": update_at,
        "visibility": row["visibility"],
        "workspace_id": row["workspace_id"],
    }
    if not listed:
        record["support_res_categories"] = list(categories)
    if row["type"] == "BUILD_IN":
        record.update({name: row[column] for name, column in SHOW_COLUMNS.items()})
    extra = json.loads(row["extra"])
    record.update({k: extra[k] for k in _RECORD_EXTRAS if k in extra})
    return record  # type: ignore[return-value]


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ImageStore:
    """The images (and IAM tokens) of one emulator, in ``{data_dir}/modelarts-emulator.sqlite3``.

    One connection, used from one thread (the server's event loop; or a test, read-only).
    """

    def __init__(self, data_dir: Path | str, *, readonly: bool = False) -> None:
        self.path = Path(data_dir) / DB_FILE
        if readonly:
            self._db = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout = 5000")
        if not readonly:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.executescript(_SCHEMA)
            self._db.commit()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ImageStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- images ---------------------------------------------------------------------------

    def register(
        self,
        project_id: str,
        request: RegisterRequest,
        *,
        now_ms: int,
        init_ms: int,
        creating_ms: int,
        size_kb: int,
        fail_reason: str | None,
        image_id: str | None = None,
    ) -> ImageWire:
        """Store a new registration and commit; raises :class:`AlreadyRegistered`."""
        row = self._register_row(
            project_id, request, now_ms, init_ms, creating_ms, size_kb, fail_reason, image_id
        )
        try:
            with self._db:
                self._db.execute(_INSERT, row)
        except sqlite3.IntegrityError:
            existing = self.live_id_for_swr_path(project_id, request.swr_path)
            if existing is None:
                raise
            raise AlreadyRegistered(existing) from None
        found = self.get(project_id, str(row[0]), now_ms)
        assert found is not None
        return found

    @staticmethod
    def _register_row(
        project_id: str,
        request: RegisterRequest,
        now_ms: int,
        init_ms: int,
        creating_ms: int,
        size_kb: int,
        fail_reason: str | None,
        image_id: str | None,
    ) -> tuple[Any, ...]:
        parts = split_swr_path(request.swr_path) or {}
        extra: dict[str, Any] = {}
        for name in ("flavor_type", "swr_instance_id", "read_me"):
            value = getattr(request, name)
            if value is not None:
                extra[name] = value
        if request.tags is not None:
            extra["tags"] = [{"key": k, "value": v} for k, v in request.tags]
        arch = request.arch.value if request.arch else "X86_64"
        # Omitted resource_category means CPU and GPU (SDK ImageRegRequest docstring, ma-cli's default).
        categories = (
            [c.value for c in request.resource_category] if request.resource_category else ["CPU", "GPU"]
        )
        services = [s.value for s in request.services] if request.services else ["NOTEBOOK", "SSH"]
        return (
            image_id or str(uuid.uuid4()),
            request.swr_path,
            parts.get("name", ""),
            parts.get("namespace", ""),
            parts.get("tag") or parts.get("digest", ""),
            # The service answers the architecture in lower case (the seed's own example does).
            arch.lower(),
            request.description or "",
            request.origin.value if request.origin else "CUSTOMIZE",
            json.dumps(categories),
            json.dumps(services),
            request.service_type.value if request.service_type else "UNKNOWN",
            request.visibility.value if request.visibility else "PRIVATE",
            request.workspace_id or "0",
            "DEDICATED",
            size_kb,
            json.dumps(extra),
            now_ms,
            init_ms,
            creating_ms,
            fail_reason,
            None,
            None,
            project_id,
        )

    def live_id_for_swr_path(self, project_id: str, swr_path: str) -> str | None:
        row = self._db.execute(
            "SELECT id FROM images WHERE project_id = ? AND swr_path = ? AND deleted_at IS NULL",
            (project_id, swr_path),
        ).fetchone()
        return None if row is None else str(row["id"])

    def get(self, project_id: str, image_id: str, now_ms: int) -> ImageWire | None:
        """The image (a deleted one too, with status DELETED; or a preset), or ``None``."""
        row = self._db.execute(_SELECT_ONE, (image_id, project_id)).fetchone()
        return None if row is None else _row_to_wire(row, now_ms)

    def install_presets(self, registry: str, now_ms: int) -> None:
        """Add the service's preset images (idempotent: stable ids, ``INSERT OR IGNORE``)."""
        rows = []
        for preset in PRESET_IMAGES:
            swr_path = f"{registry}/{PRESET_NAMESPACE}/{preset.name}:{preset.tag}"
            built = datetime.strptime(preset.tag[:14], "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
            created = min(now_ms, round(built.timestamp() * 1000))
            extra = {"flavor_type": preset.flavor_type} if preset.flavor_type else {}
            image_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mai-widgets-preset/{swr_path}"))
            rows.append(
                (
                    image_id, swr_path, preset.name, PRESET_NAMESPACE, preset.tag, preset.arch.lower(),
                    preset.description, "CUSTOMIZE", json.dumps(list(preset.resource_categories)),
                    json.dumps(["NOTEBOOK", "SSH"]), preset.service_type, "PUBLIC", "0", "BUILD_IN",
                    preset.size_kb, json.dumps(extra), created, 0, 0, None, None, None, PRESET_PROJECT,
                )
            )  # fmt: skip
        with self._db:
            self._db.executemany(_INSERT.replace("INSERT", "INSERT OR IGNORE", 1), rows)

    def forget_swr_image(self, swr_path: str, now_ms: int) -> None:
        """A forced delete removed the image's content from SWR: it no longer exists there."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO swr_deleted (swr_path, deleted_at) VALUES (?, ?)", (swr_path, now_ms)
            )

    def remember_swr_image(self, swr_path: str) -> None:
        """The image was pushed again: it exists in SWR once more."""
        with self._db:
            self._db.execute("DELETE FROM swr_deleted WHERE swr_path = ?", (swr_path,))

    def swr_deleted_paths(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT swr_path FROM swr_deleted ORDER BY swr_path")]

    def swr_image_deleted(self, swr_path: str) -> bool:
        row = self._db.execute("SELECT 1 FROM swr_deleted WHERE swr_path = ?", (swr_path,)).fetchone()
        return row is not None

    def delete(self, project_id: str, image_id: str, now_ms: int, *, force: bool) -> ImageWire | None:
        """Mark a live image deleted and commit; ``None`` if there is no live image with that id."""
        message = "image deleted (force)" if force else "image deleted"
        with self._db:
            cursor = self._db.execute(
                "UPDATE images SET deleted_at = ?, delete_message = ? "
                "WHERE id = ? AND project_id = ? AND deleted_at IS NULL",
                (now_ms, message, image_id, project_id),
            )
        if cursor.rowcount != 1:
            return None
        return self.get(project_id, image_id, now_ms)

    def _where(self, project_id: str, query: ListQuery) -> tuple[str, dict[str, Any]]:
        # BUILD_IN images are the presets (no project); DEDICATED ones are this project's.
        owner = PRESET_PROJECT if query.type == "BUILD_IN" else project_id
        clauses = ["project_id = :project", "deleted_at IS NULL"]
        params: dict[str, Any] = {"project": owner}
        if query.name is not None:
            if query.name_fuzzy_match:
                clauses.append("name LIKE :name ESCAPE '\\'")
                params["name"] = _like_pattern(query.name)
            else:
                clauses.append("name = :name")
                params["name"] = query.name
        clauses.append("workspace_id = :workspace_id")
        params["workspace_id"] = query.workspace_id
        for column in ("namespace", "service_type", "type"):
            value = getattr(query, column)
            if value is not None:
                clauses.append(f"{column} = :{column}")
                params[column] = value
        for name, column in SHOW_COLUMNS.items():
            value = getattr(query, name)
            if value is not None:
                clauses.append(f"type = 'BUILD_IN' AND {column} = :{name}")
                params[name] = value
        if query.swr_instance_id is not None:
            clauses.append("json_extract(extra, '$.swr_instance_id') = :swr_instance_id")
            params["swr_instance_id"] = query.swr_instance_id
        return " AND ".join(clauses), params

    def list_page(self, project_id: str, query: ListQuery, now_ms: int) -> tuple[list[ImageWire], int]:
        """One page of live images and the total count of matches."""
        where, params = self._where(project_id, query)
        params["now"] = now_ms
        direction = "ASC" if query.sort_dir == "ASC" else "DESC"
        order = ", ".join(f"{SORT_COLUMNS[key]} {direction}" for key in query.sort_keys)
        count_sql = f"SELECT COUNT(*) FROM images WHERE {where}"  # noqa: S608
        total = int(self._db.execute(count_sql, params).fetchone()[0])
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM images WHERE {where} ORDER BY {order}, seq {direction} "  # noqa: S608
            "LIMIT :limit OFFSET :offset",
            {**params, "limit": query.limit, "offset": query.offset},
        ).fetchall()
        return [_row_to_wire(row, now_ms, listed=True) for row in rows], total

    def groups(self, project_id: str, query: ListQuery, now_ms: int) -> tuple[list[dict[str, Any]], int]:
        """One page of (namespace, name) groups of live images, most recently registered first."""
        where, params = self._where(project_id, query)
        grouped = _GROUPED.format(where=where)
        total = int(self._db.execute(f"SELECT COUNT(*) FROM ({grouped})", params).fetchone()[0])  # noqa: S608
        rows = self._db.execute(
            f"SELECT g.*, i.id AS latest_id, i.description, i.extra FROM ({grouped}) AS g "  # noqa: S608
            "JOIN images AS i ON i.seq = g.last_seq ORDER BY g.last_at DESC, g.last_seq DESC "
            "LIMIT :limit OFFSET :offset",
            {**params, "limit": query.limit, "offset": query.offset},
        ).fetchall()
        out = []
        for row in rows:
            extra = json.loads(row["extra"])
            # Exactly the SDK's ImageGroup fields; the SWR-enterprise ones are null without an instance.
            out.append(
                {
                    "id": row["latest_id"],
                    "name": row["name"],
                    "namespace": row["namespace"],
                    "version_count": int(row["version_count"]),
                    "create_at": int(row["first_at"]),
                    "update_at": int(row["last_at"]),
                    "description": row["description"],
                    "read_me": extra.get("read_me", ""),
                    "icon_name": None,
                    "swr_instance_name": None,
                    "swr_instance_id": extra.get("swr_instance_id"),
                }
            )
        return out, total

    def count(self, project_id: str | None = None, *, include_deleted: bool = False) -> int:
        """How many of the users' registrations (presets not counted)."""
        sql = "SELECT COUNT(*) FROM images WHERE type = 'DEDICATED'"
        params: list[Any] = []
        if project_id is not None:
            sql += " AND project_id = ?"
            params.append(project_id)
        if not include_deleted:
            sql += " AND deleted_at IS NULL"
        return int(self._db.execute(sql, params).fetchone()[0])

    def all_ids(self) -> list[str]:
        """Ids of the users' registrations (presets left out), oldest first."""
        rows = self._db.execute("SELECT id FROM images WHERE type = 'DEDICATED' ORDER BY seq")
        return [str(r["id"]) for r in rows]

    def seed_images(
        self,
        project_id: str,
        count: int,
        *,
        registry: str,
        now_ms: int,
        namespace: str = "mai-bench",
    ) -> int:
        """Bulk-insert ``count`` ACTIVE images (for benchmarks); idempotent. Returns how many were new."""
        rows: list[tuple[Any, ...]] = []
        for i in range(count):
            swr_path = f"{registry}/{namespace}/bench-{i % 100:02d}:v{i:06d}"
            request = RegisterRequest.create(swr_path=swr_path, description=f"benchmark image {i}")
            image_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mai-widgets-seed/{project_id}/{i}"))
            rows.append(
                self._register_row(
                    project_id, request, now_ms - (count - i), 0, 0, 1_048_576 + i, None, image_id
                )
            )
        before = self.count(project_id)
        with self._db:
            self._db.executemany(_INSERT.replace("INSERT", "INSERT OR IGNORE", 1), rows)
        return self.count(project_id) - before

    # -- notebook instances ---------------------------------------------------------------

    def seed_notebook(
        self,
        project_id: str,
        notebook_id: str,
        name: str,
        status: str,
        ip: str,
        image: dict[str, Any],
        now_ms: int,
    ) -> None:
        """Add an instance unless one with this id exists (seeds are idempotent across restarts)."""
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO notebooks (id, project_id, name, status, ip, image, create_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (notebook_id, project_id, name, status, ip, json.dumps(image), now_ms),
            )

    def notebook_rows(self, project_id: str) -> list[sqlite3.Row]:
        """Every instance of the project, oldest first."""
        return list(
            self._db.execute("SELECT * FROM notebooks WHERE project_id = ? ORDER BY seq", (project_id,))
        )

    def notebook_row(self, project_id: str, notebook_id: str) -> sqlite3.Row | None:
        row = self._db.execute(
            "SELECT * FROM notebooks WHERE project_id = ? AND id = ?", (project_id, notebook_id)
        ).fetchone()
        return None if row is None else row

    def start_snapshot(
        self,
        project_id: str,
        notebook_id: str,
        *,
        image: dict[str, Any],
        until_ms: int,
        saved_image_id: str,
        saved_image: dict[str, Any],
        swr_spec: dict[str, Any],
    ) -> None:
        """The instance saves: SNAPSHOTTING until ``until_ms``, then on ``saved_image`` if that
        image became ACTIVE (``image`` is what it runs now, an earlier save folded in)."""
        with self._db:
            self._db.execute(
                "UPDATE notebooks SET image = ?, snapshot_until = ?, saved_image_id = ?, saved_image = ? "
                "WHERE project_id = ? AND id = ?",
                (
                    json.dumps(image),
                    until_ms,
                    saved_image_id,
                    json.dumps(saved_image),
                    project_id,
                    notebook_id,
                ),
            )
            self._db.execute(
                "INSERT OR REPLACE INTO saved_images (image_id, swr_path, spec) VALUES (?, ?, ?)",
                (saved_image_id, swr_spec["path"], json.dumps(swr_spec)),
            )

    def saved_image_specs(self) -> list[dict[str, Any]]:
        """The SWR content of every saved image whose content no forced delete removed."""
        rows = self._db.execute(
            "SELECT spec FROM saved_images WHERE swr_path NOT IN (SELECT swr_path FROM swr_deleted) "
            "ORDER BY rowid"
        )
        return [json.loads(row[0]) for row in rows]

    # -- tokens ---------------------------------------------------------------------------

    def save_token(self, token: str, project_id: str, user_name: str, expires_at_ms: int) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO tokens (token, project_id, user_name, expires_at) VALUES (?, ?, ?, ?)",
                (token, project_id, user_name, expires_at_ms),
            )

    def token_info(self, token: str) -> TokenInfo | None:
        row = self._db.execute(
            "SELECT project_id, user_name, expires_at FROM tokens WHERE token = ?", (token,)
        ).fetchone()
        if row is None:
            return None
        return TokenInfo(str(row["project_id"]), str(row["user_name"]), int(row["expires_at"]))
