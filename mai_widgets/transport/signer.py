"""SDK-HMAC-SHA256: the AK/SK signer and its server-side verifier.

The signer implements ``SDK-HMAC-SHA256`` as huaweicloudsdkcore's ``Signer`` does, so its
``Authorization`` header is byte-identical for the same logical request (tests/transport/test_signer.py
proves it against the SDK). Query strings are compared in decoded form: ``requests`` writes a
space as ``+`` and the SDK as ``%20``, so both sides (signer and verifier) decode the raw query
(``+`` read as a space), sort the pairs and re-encode them; whatever a client library does to
the percent-encoding, both sides agree.

No secret (AK, SK, security token) ever appears in a repr, a log line or an exception message
built here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote, unquote, unquote_plus, urlsplit

import requests
from requests.auth import AuthBase

from ..errors import ConfigError
from ..i18n import Msg

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
DEFAULT_MAX_SKEW_SECONDS = 900
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_CONTENT_SHA256 = "X-Sdk-Content-Sha256"
# Characters that would break (or let requests reject, echoing the value) a header.
BAD_HEADER_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_AK_FORBIDDEN = re.compile(r"[\s,=;]")


class SignatureError(Exception):
    """An AK/SK signature did not verify; ``reason`` says why and never holds a secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AccessKeySecret:
    """What a server knows about one AK: its SK, and for temporary credentials their token.

    ``secret_for_ak`` callbacks of :func:`verify_signature` return this (or just the SK for a
    permanent key). With ``security_token`` set, the request must carry a signed
    ``X-Security-Token`` equal to it.
    """

    sk: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        kind = "temporary" if self.security_token is not None else "permanent"
        return f"AccessKeySecret(sk=<hidden>, {kind})"


SecretLookup = Callable[[str], "str | AccessKeySecret | None"]


# -- canonical request pieces (shared by signer and verifier) --------------------------------


def _encode(text: str) -> str:
    return quote(text, safe="~")


def canonical_uri(path: str) -> str:
    """Each decoded path segment percent-encoded, always ending in ``/``."""
    uri = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """The decoded ``(key, value)`` pairs of a raw query string, in order; ``+`` is a space."""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((unquote_plus(key), unquote_plus(value)))
    return pairs


def canonical_query(raw_query: str) -> str:
    """Pairs sorted by decoded key then value (as the SDK sorts its parameters), re-encoded."""
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(query_pairs(raw_query)))


def _payload_hash(body: bytes, claimed: str | None) -> str:
    # As the SDK: an empty body hashes as empty even when X-Sdk-Content-Sha256 is set.
    if not body:
        return _EMPTY_SHA256
    return claimed if claimed else hashlib.sha256(body).hexdigest()


def _signature(
    sk: str,
    method: str,
    path: str,
    raw_query: str,
    signed: list[tuple[str, str]],
    payload_hash: str,
    signed_at: datetime,
) -> str:
    canonical_headers = "".join(f"{name}:{value}\n" for name, value in signed)
    canonical_request = "\n".join(
        (
            method.upper(),
            canonical_uri(path),
            canonical_query(raw_query),
            canonical_headers,
            ";".join(name for name, _ in signed),
            payload_hash,
        )
    )
    string_to_sign = "\n".join(
        (ALGORITHM, signed_at.strftime(DATE_FORMAT), hashlib.sha256(canonical_request.encode()).hexdigest())
    )
    return hmac.new(sk.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def _parse_date(text: str) -> datetime:
    return datetime.strptime(text, DATE_FORMAT).replace(tzinfo=timezone.utc)


def _host_of(url: str) -> str:
    return urlsplit(url).netloc.rpartition("@")[2]


def _as_bytes(body: bytes | str | None) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


# -- client side -----------------------------------------------------------------------------


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | str | None,
    ak: str,
    sk: str,
    *,
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers to add to sign one request: ``Host``/``X-Sdk-Date`` unless given, ``Authorization``.

    Every given header whose name has no ``_`` is signed (as the SDK signs all its headers);
    an ``X-Sdk-Date`` already given is the signing date. A body with a content type other than
    JSON/BSON is sent as ``UNSIGNED-PAYLOAD``, exactly as the SDK does. Header values are
    signed stripped; send non-ASCII values as UTF-8 bytes.
    """
    given = {name: str(value) for name, value in headers.items()}
    by_lower = {name.lower(): name for name in given}
    added: dict[str, str] = {}
    content_type = given.get(by_lower.get("content-type", ""), "")
    if content_type and not content_type.startswith(("application/json", "application/bson")):
        added[_CONTENT_SHA256] = _UNSIGNED_PAYLOAD
    if "x-sdk-date" in by_lower:
        signed_at = _parse_date(given[by_lower["x-sdk-date"]])
    else:
        signed_at = _as_utc(now)
        added["X-Sdk-Date"] = signed_at.strftime(DATE_FORMAT)
    if "host" not in by_lower:
        added["Host"] = _host_of(url)
    every = {**given, **added}
    values = {name.lower(): value.strip() for name, value in every.items() if "_" not in name}
    signed = sorted(values.items())
    claimed = next((v for n, v in every.items() if n.lower() == _CONTENT_SHA256.lower()), None)
    parts = urlsplit(url)
    signature = _signature(
        sk, method, parts.path or "/", parts.query, signed, _payload_hash(_as_bytes(body), claimed), signed_at
    )
    added["Authorization"] = (
        f"{ALGORITHM} Access={ak}, SignedHeaders={';'.join(n for n, _ in signed)}, Signature={signature}"
    )
    return added


def check_header_safe(value: str, what: str, env: str) -> None:
    if not value:
        raise ConfigError(f"the {what} is empty", missing=(env,), hint=Msg("set {setting}", setting=env))
    if BAD_HEADER_CHARS.search(value) or value != value.strip():
        raise ConfigError(
            f"the {what} contains whitespace or control characters at its ends or inside",
            hint=Msg("check {setting} for a stray newline or quote", setting=env),
        )


def _wire_value(value: str) -> str:
    """A header value as http.client must send it: UTF-8 bytes, written as latin-1 text."""
    return value.strip().encode("utf-8").decode("latin-1")


def _should_sign(name: str) -> bool:
    # Not User-Agent, Accept*, Connection or Content-Length: proxies and adapters may
    # rewrite those; the body hash already covers the length.
    lower = name.lower()
    return "_" not in name and (lower in ("host", "content-type") or lower.startswith("x-"))


class AKSKAuth(AuthBase):
    """Sign each request with an AK/SK pair (``SDK-HMAC-SHA256``), as the official SDK does.

    Adds ``X-Sdk-Date`` (unless the request has one), ``Host``, ``X-Project-Id`` and
    ``X-Security-Token`` (temporary credentials) when given, then ``Authorization``. Signed:
    Host, Content-Type and every ``X-`` header. A ``str`` body is sent as its UTF-8 bytes (the
    bytes that were hashed). Query values travel as text: pass booleans as ``"true"``/``"false"``
    (``requests`` would write ``True``, the SDK writes ``true``).
    """

    def __init__(
        self, ak: str, sk: str, project_id: str | None = None, security_token: str | None = None
    ) -> None:
        check_header_safe(ak, "access key (AK)", "HUAWEICLOUD_SDK_AK")
        if _AK_FORBIDDEN.search(ak):
            raise ConfigError(
                "the access key (AK) contains spaces, commas, '=' or ';'",
                hint=Msg("check {setting}", setting="HUAWEICLOUD_SDK_AK"),
            )
        check_header_safe(sk, "secret key (SK)", "HUAWEICLOUD_SDK_SK")
        if security_token is not None:
            check_header_safe(security_token, "security token", "HUAWEICLOUD_SDK_SECURITY_TOKEN")
        if project_id is not None:
            check_header_safe(project_id, "project id", "HUAWEICLOUD_SDK_PROJECT_ID")
        self._ak = ak
        self._sk = sk
        self.project_id = project_id
        self._security_token = security_token

    def __repr__(self) -> str:
        token = ", security_token=<set>" if self._security_token is not None else ""
        return f"AKSKAuth(ak=<set>, sk=<hidden>{token}, project_id={self.project_id!r})"

    def secret_values(self) -> tuple[str, ...]:
        """The AK, SK and security token (for redaction of what a server echoes)."""
        return tuple(v for v in (self._ak, self._sk, self._security_token) if v)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if r.body is not None and not isinstance(r.body, (bytes, str)):
            raise TypeError("AKSKAuth signs the whole body: pass bytes or str, not a stream")
        if isinstance(r.body, str):
            # http.client would send a str body as latin-1; send (and hash) its UTF-8 bytes
            r.body = r.body.encode("utf-8")
            r.headers["Content-Length"] = str(len(r.body))
        if self.project_id:
            r.headers["X-Project-Id"] = self.project_id
        if self._security_token is not None:
            r.headers["X-Security-Token"] = self._security_token
        r.headers.pop("Authorization", None)
        # an explicit Host header, so urllib3 sends exactly the host that was signed
        r.headers["Host"] = r.headers.get("Host") or _host_of(r.url or "")
        to_sign = {name: value for name, value in r.headers.items() if _should_sign(name)}
        for name, value in to_sign.items():
            r.headers[name] = _wire_value(value)
        added = sign_request(r.method or "GET", r.url or "", to_sign, r.body, self._ak, self._sk)
        r.headers.update(added)
        return r


# -- server side -----------------------------------------------------------------------------

_AUTH_FIELD = re.compile(r"\s*(Access|SignedHeaders|Signature)=([^,\s]*)\s*")
_SIGNED_NAME = re.compile(r"[a-z0-9!#$%&'*+.^`|~-]+")


def _parse_authorization(value: str) -> tuple[str, list[str], str]:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureError(f"unsupported signing algorithm (expected {ALGORITHM})")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        match = _AUTH_FIELD.fullmatch(item)
        if match is None or match.group(1) in fields:
            raise SignatureError("malformed Authorization header")
        fields[match.group(1)] = match.group(2)
    if set(fields) != {"Access", "SignedHeaders", "Signature"} or not fields["Access"]:
        raise SignatureError("malformed Authorization header: needs Access, SignedHeaders and Signature")
    names = fields["SignedHeaders"].split(";")
    if not all(_SIGNED_NAME.fullmatch(name) for name in names):
        raise SignatureError("malformed SignedHeaders: lower-case header names joined by ';'")
    return fields["Access"], names, fields["Signature"]


def _text_value(value: str) -> str:
    # Servers decode header bytes as latin-1; signers sign the UTF-8 text those bytes encode.
    try:
        return value.encode("latin-1").decode("utf-8").strip()
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value.strip()


def _received_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
) -> dict[str, list[str]]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    received: dict[str, list[str]] = {}
    for name, value in items:
        received.setdefault(name.lower(), []).append(_text_value(value))
    return received


def _single(received: dict[str, list[str]], name: str) -> str | None:
    values = received.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise SignatureError(f"header {name} sent more than once")
    return values[0]


def _as_utc(now: datetime | float | None) -> datetime:
    """An aware UTC datetime; a naive one is taken as UTC, a float as a POSIX timestamp."""
    if now is None:
        return datetime.now(timezone.utc)
    if isinstance(now, datetime):
        return now.astimezone(timezone.utc) if now.tzinfo else now.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(now, timezone.utc)


def verify_signature(
    method: str,
    path: str,
    raw_query: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes,
    secret_for_ak: SecretLookup,
    now: datetime | float | None = None,
    max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS,
    *,
    allow_unsigned_payload: bool = False,
) -> str:
    """Check an ``SDK-HMAC-SHA256`` request as received; return its AK or raise :class:`SignatureError`.

    ``path`` and ``raw_query`` are the request target as received (still percent-encoded);
    ``headers`` a mapping or ``(name, value)`` pairs as the server decoded them (latin-1).
    ``secret_for_ak(ak)`` returns the SK, an :class:`AccessKeySecret` (for temporary keys:
    the signed ``X-Security-Token`` must match its ``security_token``), or None if unknown.
    Host and X-Sdk-Date must be signed, and so must X-Security-Token, X-Project-Id and
    X-Sdk-Content-Sha256 when present. ``UNSIGNED-PAYLOAD`` bodies fail unless allowed.
    """
    received = _received_headers(headers)
    authorization = _single(received, "authorization")
    if not authorization:
        raise SignatureError("missing Authorization header")
    ak, signed_names, signature = _parse_authorization(authorization)
    for name in ("host", "x-sdk-date"):
        if name not in signed_names:
            raise SignatureError(f"{name} must be a signed header")
    for name in ("x-security-token", "x-project-id", _CONTENT_SHA256.lower()):
        if name in received and name not in signed_names:
            raise SignatureError(f"{name} is present but not signed")
    signed: list[tuple[str, str]] = []
    for name in signed_names:
        value = _single(received, name)
        if value is None:
            raise SignatureError(f"signed header {name} is missing from the request")
        signed.append((name, value))
    date_text = dict(signed)["x-sdk-date"]
    try:
        signed_at = _parse_date(date_text)
    except ValueError:
        raise SignatureError(f"X-Sdk-Date is not in the {DATE_FORMAT} format") from None
    skew = abs((_as_utc(now) - signed_at).total_seconds())
    if skew > max_skew_seconds:
        raise SignatureError(
            f"X-Sdk-Date is {skew:.0f} s away from the server clock "
            f"(at most {max_skew_seconds:.0f} s allowed)"
        )
    found = secret_for_ak(ak)
    if found is None:
        raise SignatureError("unknown access key")
    key = found if isinstance(found, AccessKeySecret) else AccessKeySecret(found)
    if key.security_token is not None:
        token = dict(signed).get("x-security-token")
        if token is None:
            raise SignatureError("temporary access key: a signed X-Security-Token is required")
        if not hmac.compare_digest(token.encode(), key.security_token.encode()):
            raise SignatureError("the security token does not belong to this access key")
    claimed = dict(signed).get(_CONTENT_SHA256.lower())
    if body and claimed is not None:
        if claimed == _UNSIGNED_PAYLOAD:
            if not allow_unsigned_payload:
                raise SignatureError("UNSIGNED-PAYLOAD is not accepted: the body must be signed")
        elif not hmac.compare_digest(claimed.encode(), hashlib.sha256(body).hexdigest().encode()):
            raise SignatureError("the body does not match X-Sdk-Content-Sha256")
    expected = _signature(key.sk, method, path, raw_query, signed, _payload_hash(body, claimed), signed_at)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise SignatureError(
            "signature mismatch: the request differs from what was signed, or the SK is wrong"
        )
    return ak
