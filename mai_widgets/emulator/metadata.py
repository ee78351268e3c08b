"""The ECS/BMS instance metadata service's two credential routes, served by the emulator.

``PUT /meta-data/latest/api/token`` (header ``X-Metadata-Token-Ttl-Seconds``) gives a session
token; ``GET /openstack/latest/securitykey`` (header ``X-Metadata-Token``) gives temporary
AK/SK and a security token, ``{"credential": {"access", "secret", "securitytoken",
"expires_at"}}``, as huaweicloudsdkcore's MetadataAccessor reads them. The emulator accepts
those credentials for signed requests until they expire (``--metadata-credential-seconds``);
after that they answer 401 as any unknown key does. ``--metadata-no-agency`` answers the
security key with the 401 of an instance without an agency.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from tornado.web import RequestHandler

from ..transport.signer import AccessKeySecret

__all__ = ["MetadataIssuer", "metadata_routes"]

# The real service's range for the session token's lifetime (seconds).
_TOKEN_TTL_MIN, _TOKEN_TTL_MAX = 1, 21600
NO_AGENCY_MESSAGE = "Please configure Cloud Service Agency first"


def _iso(ms: int) -> str:
    """``2026-11-28T06:20:29.096000Z``, the format of ``expires_at``."""
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class MetadataIssuer:
    """Session tokens and temporary credentials handed out, with their expiry (in memory).

    ``clock`` is the emulator's clock in milliseconds. Thread-safe (tornado serves on one
    thread, but tests may call it from others).
    """

    def __init__(self, credential_seconds: float, *, no_agency: bool, clock: Callable[[], int]) -> None:
        self.credential_ms = round(credential_seconds * 1000)
        self.no_agency = no_agency
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, int] = {}
        self._keys: dict[str, tuple[AccessKeySecret, int]] = {}
        self.issued = 0

    def issue_token(self, ttl_seconds: int) -> str:
        now = self._clock()
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens = {t: until for t, until in self._tokens.items() if until > now}
            self._tokens[token] = now + ttl_seconds * 1000
        return token

    def token_valid(self, token: str) -> bool:
        with self._lock:
            until = self._tokens.get(token)
        return until is not None and until > self._clock()

    def issue_credentials(self) -> dict[str, str]:
        now = self._clock()
        expires = now + self.credential_ms
        ak = "MAIMETA" + secrets.token_hex(7).upper()
        secret = AccessKeySecret(
            secrets.token_urlsafe(30), security_token="mai-meta-" + secrets.token_urlsafe(96)
        )
        with self._lock:
            self._keys = {k: v for k, v in self._keys.items() if v[1] > now}
            self._keys[ak] = (secret, expires)
            self.issued += 1
        assert secret.security_token is not None
        return {
            "access": ak,
            "secret": secret.sk,
            "securitytoken": secret.security_token,
            "expires_at": _iso(expires),
        }

    def secret_for_ak(self, ak: str) -> AccessKeySecret | None:
        """The secret of a temporary AK this service issued, while it is valid."""
        with self._lock:
            found = self._keys.get(ak)
        if found is None or found[1] <= self._clock():
            return None
        return found[0]


class _MetadataHandler(RequestHandler):
    issuer: MetadataIssuer

    def initialize(self, issuer: MetadataIssuer) -> None:
        self.issuer = issuer

    def set_default_headers(self) -> None:
        self.set_header("X-Request-Id", uuid.uuid4().hex)

    def check_xsrf_cookie(self) -> None:
        return None

    def compute_etag(self) -> str | None:
        return None

    def fail(self, status: int, code: str, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json;charset=UTF-8")
        self.finish(json.dumps({"error_code": code, "error_msg": message}))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json;charset=UTF-8")
        self.finish(json.dumps({"error_code": f"Metadata.{status_code}", "error_msg": self._reason}))


class TokenHandler(_MetadataHandler):
    def put(self) -> None:
        raw = self.request.headers.get("X-Metadata-Token-Ttl-Seconds", "")
        try:
            ttl = int(raw)
        except ValueError:
            ttl = 0
        if not _TOKEN_TTL_MIN <= ttl <= _TOKEN_TTL_MAX:
            self.fail(400, "Metadata.0400", "X-Metadata-Token-Ttl-Seconds must be 1..21600")
            return
        self.set_header("Content-Type", "text/plain")
        self.finish(self.issuer.issue_token(ttl))


class SecurityKeyHandler(_MetadataHandler):
    def get(self) -> None:
        token = self.request.headers.get("X-Metadata-Token")
        # Without a token header the service answers as the older one does; a bad token is 401.
        if token is not None and not self.issuer.token_valid(token):
            self.fail(401, "Metadata.0401", "The metadata token is invalid or expired.")
            return
        if self.issuer.no_agency:
            self.fail(401, "Metadata.0401", NO_AGENCY_MESSAGE)
            return
        self.set_header("Content-Type", "application/json;charset=UTF-8")
        self.finish(json.dumps({"credential": self.issuer.issue_credentials()}))


def metadata_routes(issuer: MetadataIssuer) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """The two routes, for the emulator's tornado application."""
    kw: dict[str, Any] = {"issuer": issuer}
    return [
        (r"/meta-data/latest/api/token", TokenHandler, kw),
        (r"/openstack/latest/securitykey", SecurityKeyHandler, kw),
    ]
