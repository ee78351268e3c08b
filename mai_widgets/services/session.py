"""One sign-in per configuration and credentials: the session ModelArts and SWR clients share.

A :class:`Session` holds what every client of one account and region needs once: the
credentials chain and the auth object it builds (IAM token, AK/SK signer, metadata-service
credentials), the project id, and one :class:`~mai_widgets.transport.http.HttpService` per
service. Its :attr:`Session.images` and :attr:`Session.swr` are the clients widgets, the
controller and the magics use; :meth:`Session.for_config` gives the same session for the same
settings, so a kernel signs in (and logs in to SWR's registry) once.

Building a session is cheap: no HTTP library is imported and nothing is sent until the first
request, which creates the HTTP services and finds the credentials.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import requests
    from requests.auth import AuthBase

    from ..auth.config import MaiConfig
    from ..auth.credentials import CredentialChain, Credentials
    from ..transport.http import HttpService
    from .images import ImageClient
    from .swr import SwrClient

__all__ = ["Session"]


def _settings_key(config: MaiConfig) -> tuple[tuple[str, Hashable], ...]:
    # Configurable traits only (values are str, int, float, bool): equal settings, one session.
    return tuple((name, getattr(config, name)) for name in sorted(config.trait_names(config=True)))


class Session:
    """The shared sign-in of one configuration and set of credentials.

    ``auth`` replaces the credentials (any ``requests`` auth object); ``session`` (a
    ``requests.Session``) lends its hooks, proxies, client certificate and headers to every HTTP
    service made here.
    """

    _shared: ClassVar[dict[Hashable, Session]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        config: MaiConfig | None = None,
        credentials: Credentials | None = None,
        *,
        auth: AuthBase | None = None,
        session: requests.Session | None = None,
    ) -> None:
        from ..auth.config import load_config  # traitlets only: cheap
        from ..auth.credentials import Credentials  # no HTTP library

        self.config: MaiConfig = config if config is not None else load_config()
        self._credentials = credentials if credentials is not None else Credentials.from_env()
        self._explicit_auth = auth
        self._template = session
        self._lock = threading.RLock()
        self._chain: CredentialChain | None = None
        self._auth: AuthBase | None = None
        self._project_id: str = self.config.project_id
        self._services: dict[tuple[str, str], HttpService] = {}
        self._secret_sources: list[Callable[[], Iterable[str]]] = []
        self._images: ImageClient | None = None
        self._swr: SwrClient | None = None
        self._closed = False

    @classmethod
    def for_config(cls, config: MaiConfig | None = None, credentials: Credentials | None = None) -> Session:
        """The kernel's session for these settings and credentials (made on first use).

        ``None`` reads :func:`~mai_widgets.auth.config.load_config` and the environment. A closed
        session is replaced by a new one.
        """
        from ..auth.config import load_config
        from ..auth.credentials import Credentials

        config = config if config is not None else load_config()
        credentials = credentials if credentials is not None else Credentials.from_env()
        key = (_settings_key(config), credentials)
        with cls._shared_lock:
            found = cls._shared.get(key)
            if found is None or found.closed:
                found = cls._shared[key] = cls(config, credentials)
            return found

    # -- the clients -----------------------------------------------------------------------

    @property
    def images(self) -> ImageClient:
        """The ModelArts image client of this session."""
        with self._lock:
            if self._images is None:
                from .images import ImageClient

                self._images = ImageClient(shared=self)
            return self._images

    @property
    def swr(self) -> SwrClient:
        """The SWR client of this session: one temporary registry login for all its users."""
        with self._lock:
            if self._swr is None:
                from .swr import SwrClient

                self._swr = SwrClient(shared=self)
            return self._swr

    # -- settings and credentials ----------------------------------------------------------

    def missing_settings(self) -> list[str]:
        """Environment variables to set before a call can succeed (empty: ready); no network I/O."""
        if self._explicit_auth is not None:
            return []
        if self._chain is not None:
            return self._chain.missing_settings()
        from ..auth.credentials import credentials_problem

        problem = credentials_problem(self.config, self._credentials)  # no network I/O
        if problem is None:
            return []
        return list(problem.missing) or [problem.message]

    @property
    def credentials_source(self) -> str:
        """Where the credentials come from, in words; never a value."""
        if self._explicit_auth is not None:
            return "the auth object given to ImageClient"
        return self._credential_chain().description()

    def has_local_credentials(self) -> bool:
        """Credentials passed, in the environment or in the credentials file (not the metadata service)."""
        from ..auth.credentials import find_local_credentials

        return self._explicit_auth is not None or (
            find_local_credentials(self.config, self._credentials) is not None
        )

    def _credential_chain(self) -> CredentialChain:
        with self._lock:
            if self._chain is None:
                from ..auth.credentials import CredentialChain

                self._chain = CredentialChain(self.config, self._credentials)
            return self._chain

    def auth(self) -> AuthBase:
        """The auth object of every call (built on the first: metadata service, IAM)."""
        auth = self._auth
        if auth is not None:
            return auth
        with self._lock:
            if self._auth is None:
                self._auth = self._build_auth()
            return self._auth

    @property
    def project_id(self) -> str:
        """The project id (found through IAM on first use when not configured)."""
        self.auth()
        return self._project_id

    def _build_auth(self) -> AuthBase:
        # The source chain (explicit, environment, credentials file, metadata service) lives in
        # mai_widgets.auth.credentials; this only keeps what it found.
        iam = self.iam
        if self._explicit_auth is not None:
            if not self._project_id:
                from ..auth.iam import discover_project_id

                self._project_id = discover_project_id(
                    iam,
                    self.config.region,
                    self._explicit_auth,
                    redact=lambda text, _held: self.redact(text),  # the explicit auth is among them
                )
            return self._explicit_auth
        built, self._project_id = self._credential_chain().build_auth(self._project_id, iam=iam)
        return built

    # -- secrets ---------------------------------------------------------------------------

    def add_secrets(self, source: Callable[[], Iterable[str]]) -> None:
        """Also redact what ``source()`` returns (secrets a client obtains: registry logins, tokens)."""
        with self._lock:
            self._secret_sources.append(source)

    def redact(self, text: str) -> str:
        """``text`` without any secret this session knows (configured or obtained at run time)."""
        from ..auth.credentials import redact

        obtained = [value for source in list(self._secret_sources) for value in source()]
        return redact(text, self._credentials, self._auth or self._explicit_auth, obtained)

    # -- HTTP ------------------------------------------------------------------------------

    def service(self, base_url: str, *, where: str, setting: str) -> HttpService:
        """The HTTP service of ``base_url`` (made on first use; a closed one is made again)."""
        key = (base_url.rstrip("/"), where)
        with self._lock:
            found = self._services.get(key)
            if found is None or found.closed:
                from ..transport.http import HttpService

                if self._closed:
                    from ..errors import CancelledError

                    raise CancelledError("the session was closed", maybe_sent=False)
                found = HttpService(
                    base_url,
                    where=where,
                    setting=setting,
                    session=self._template,
                    redact=self.redact,
                    **self.config.http_options(),
                )
                self._services[key] = found
            return found

    @property
    def modelarts(self) -> HttpService:
        cfg = self.config
        return self.service(
            cfg.modelarts_endpoint(), where=cfg.endpoint_description(), setting="MAI_WIDGETS_ENDPOINT"
        )

    @property
    def iam(self) -> HttpService:
        url = self.config.iam_url()
        return self.service(url, where=f"IAM ({url})", setting="MAI_WIDGETS_IAM_ENDPOINT")

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop every call of this session now (in-flight requests are cut) and release its sockets."""
        with self._lock:
            self._closed = True
            services = list(self._services.values())
        for service in services:
            service.close()

    def __repr__(self) -> str:
        return f"Session({self.config.endpoint_description()})"
