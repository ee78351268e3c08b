"""The two IAM routes: password sign-in (``POST /v3/auth/tokens``) and projects (never faulty)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timezone
from typing import Any

from tornado.web import RequestHandler

from .base import ApiFailure, BaseHandler, EmulatorState, Reply, error_body


def _iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _iam_error(status: int, code: str, message: str, title: str) -> ApiFailure:
    return ApiFailure(status, code, message, {"X-Iam-Error-Title": title})


class TokensHandler(BaseHandler):
    """``POST /v3/auth/tokens`` with the password method; the token is in ``X-Subject-Token``."""

    def post(self) -> None:
        try:
            reply = self.issue()
        except ApiFailure as exc:
            # IAM's own error shape, plus the gateway's keys so one parser reads both.
            body = {
                **error_body(exc.code, exc.message),
                "error": {
                    "code": exc.status,
                    "message": exc.message,
                    "title": exc.headers.get("X-Iam-Error-Title", "Bad Request"),
                },
            }
            reply = Reply(exc.status, body)
        self.send_reply(reply)

    def issue(self) -> Reply:
        s = self.state.settings
        body = self.json_body(required=True)
        try:
            identity = body["auth"]["identity"]
            methods = identity["methods"]
            user = identity["password"]["user"]
            name, password, domain = user["name"], user["password"], user["domain"]["name"]
            scope = body["auth"].get("scope", {}).get("project", {})
        except (KeyError, TypeError, AttributeError):
            raise _iam_error(
                400,
                "IAM.0011",
                "Request body is invalid: auth.identity.password.user is required.",
                "Bad Request",
            ) from None
        if not isinstance(methods, list) or "password" not in methods:
            raise _iam_error(
                400, "IAM.0011", "Request body is invalid: only the password method.", "Bad Request"
            )
        ok = (
            isinstance(password, str)
            and name == s.iam_user
            and domain == s.iam_domain
            and hmac.compare_digest(password.encode(), s.iam_password.encode())
        )
        if not ok:
            raise _iam_error(401, "IAM.0004", "The username or password is wrong.", "Unauthorized")
        if (
            not isinstance(scope, dict)
            or scope.get("name", s.region) != s.region
            or ("id" in scope and scope["id"] != s.project_id)
        ):
            raise _iam_error(
                400, "IAM.0011", "Request body is invalid: unknown project in scope.", "Bad Request"
            )
        now = self.state.clock()
        expires = now + round(s.token_ttl_seconds * 1000)
        token = "MIIemu" + secrets.token_urlsafe(48)
        self.state.store.save_token(token, s.project_id, s.iam_user, expires)
        domain_obj = {"id": _stable_id("domain", s.iam_domain), "name": s.iam_domain}
        payload = {
            "token": {
                "expires_at": _iso_ms(expires),
                "issued_at": _iso_ms(now),
                "methods": ["password"],
                "project": {"id": s.project_id, "name": s.region, "domain": domain_obj},
                "user": {"id": _stable_id("user", s.iam_user), "name": s.iam_user, "domain": domain_obj},
                "roles": [],
                "catalog": [],
            }
        }
        return Reply(201, payload, {"X-Subject-Token": token})


def _stable_id(kind: str, name: str) -> str:
    return hashlib.sha256(f"{kind}:{name}".encode()).hexdigest()[:32]


class ProjectsHandler(BaseHandler):
    """``GET /v3/projects?name=``: the emulator has one project, named after its region."""

    def get(self) -> None:
        s = self.state.settings
        try:
            self.authenticate(None)
        except ApiFailure as exc:
            self.send_reply(self.failure_reply(exc))
            return
        wanted = self.get_query_argument("name", None)
        project = {
            "id": s.project_id,
            "name": s.region,
            "domain_id": _stable_id("domain", s.iam_domain),
            "parent_id": _stable_id("domain", s.iam_domain),
            "enabled": True,
            "is_domain": False,
            "description": "",
        }
        projects = [project] if wanted in (None, s.region) else []
        self.send_reply(Reply(200, {"projects": projects, "links": {"self": self.request.full_url()}}))


def iam_routes(state: EmulatorState) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    kw = {"state": state}
    return [(r"/v3/auth/tokens/?", TokensHandler, kw), (r"/v3/projects/?", ProjectsHandler, kw)]
