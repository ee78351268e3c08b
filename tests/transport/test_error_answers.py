"""The one reader of error answers (``mai_widgets.errors.error_from_answer``): every documented
shape of every service gives its code, message, request id and the typed class."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mai_widgets.errors import (
    ApiError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    ThrottledError,
    error_fields,
    error_from_answer,
    request_id_of,
)

SWR_DENIED = "SVCSTG.SWR.4030170"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {"error_code": "ModelArts.6797", "error_msg": "Image x does not exist."},
            "ModelArts.6797",
            "Image x",
        ),
        ({"error": {"code": 401, "message": "The username or password is wrong."}}, "401", "The username"),
        (
            [{"errorCode": SWR_DENIED, "errorMessage": "Insufficient permissions", "detail": "d"}],
            SWR_DENIED,
            "Insuff",
        ),
        (
            {
                "errors": [{"errorCode": SWR_DENIED, "errorMessage": "Insufficient permissions"}],
                "details": "d",
            },
            SWR_DENIED,
            "Insuff",
        ),
        (
            {
                "errors": [{"errorCode": SWR_DENIED, "errorMessage": "no"}],
                "error_code": SWR_DENIED,
                "error_msg": "no",
            },
            SWR_DENIED,
            "no",
        ),
        ({"errorCode": SWR_DENIED, "errorMessage": "flat"}, SWR_DENIED, "flat"),
        (
            {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "unknown", "detail": None}]},
            "MANIFEST_UNKNOWN",
            "unk",
        ),
        ({"error_code": "", "error_msg": "only a message"}, None, "only a message"),
        ({"code": 502, "message": "a gateway's own status"}, None, "a gateway's own status"),
    ],
)
def test_every_documented_shape_gives_code_and_message(body: Any, code: str | None, message: str) -> None:
    for form in (body, json.dumps(body).encode()):
        got_code, got_message = error_fields(form)
        assert got_code == code and got_message.startswith(message)


@pytest.mark.parametrize(
    "body", [b"", b"<html>502</html>", b"[]", b"{}", b"[" * 5000, b'"text"', b"\xff\xfe"]
)
def test_what_is_no_error_body_gives_nothing(body: bytes) -> None:
    assert error_fields(body) == (None, "")


def test_the_swr_codes_keep_their_class_and_hint_in_both_shapes() -> None:
    legacy = [{"errorCode": SWR_DENIED, "errorMessage": "Insufficient permissions", "detail": "x"}]
    current = {"errors": [{"errorCode": SWR_DENIED, "errorMessage": "Insufficient permissions"}]}
    for body in (legacy, current):
        error = error_from_answer(403, {"X-Request-Id": "r-1"}, json.dumps(body).encode())
        assert isinstance(error, PermissionDeniedError) and error.error_code == SWR_DENIED
        assert "SWR organization" in (error.hint or "") and error.request_id == "r-1"
    missing = error_from_answer(404, {}, json.dumps([{"errorCode": "SVCSTG.SWR.4040009"}]).encode())
    assert isinstance(missing, NotFoundError) and "docker push" in (missing.hint or "")


def test_an_answer_without_a_service_error_says_what_it_was() -> None:
    error = error_from_answer(
        502, {"Content-Type": "text/html; charset=utf-8"}, b"<html/>", reason="Bad Gateway"
    )
    assert type(error).__name__ == "ServerError" and error.error_code is None
    assert error.message == "HTTP 502: Bad Gateway (the answer was text/html, not a service error)"


def test_messages_are_redacted_collapsed_and_cut() -> None:
    body = {"error_code": "APIG.0301", "error_msg": "bad\n  token SECRET-TOKEN-1 " + "x" * 900}
    error = error_from_answer(
        401, {}, json.dumps(body).encode(), redact=lambda t: t.replace("SECRET-TOKEN-1", "***")
    )
    assert isinstance(error, AuthenticationError)
    assert "SECRET-TOKEN-1" not in error.message and "bad token ***" in error.message
    assert len(error.error_msg) == 300 and error.error_msg.endswith("…")


def test_retry_after_and_its_hint() -> None:
    body = json.dumps({"error_code": "APIG.0308", "error_msg": "throttled"}).encode()
    error = error_from_answer(429, {"Retry-After": "3600"}, body)
    assert isinstance(error, ThrottledError) and error.retry_after == 3600.0
    assert error.hint == "the service asked to wait 60 min; retry after that"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Request-Id": "a", "X-IAM-Trace-Id": "b"}, "a"),
        ({"X-Openstack-Request-Id": "o"}, "o"),
        ({"X-IAM-Trace-Id": "iam-1"}, "iam-1"),
        ({"X-Request-Id": ""}, None),
        ({}, None),
    ],
)
def test_one_request_id_picker(headers: dict[str, str], expected: str | None) -> None:
    assert request_id_of(headers) == expected
    error = error_from_answer(500, headers, b"")
    assert isinstance(error, ApiError) and error.request_id == expected


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    from datetime import datetime, timedelta, timezone
    from email.utils import format_datetime

    from mai_widgets.errors import parse_retry_after

    assert parse_retry_after("7") == 7.0
    in_a_minute = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=60), usegmt=True)
    seconds = parse_retry_after(in_a_minute)
    assert seconds is not None and 55.0 <= seconds <= 60.0
    assert parse_retry_after("not a date") is None and parse_retry_after("") is None
