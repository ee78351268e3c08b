"""A ``requests`` response hook that keeps what reached a server (shared by client tests)."""

from __future__ import annotations

from typing import Any

import requests


class Recorder:
    """Every response a session received, with urllib3's retries of each call."""

    def __init__(self) -> None:
        self.responses: list[requests.Response] = []

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.responses.append(response)

    def session(self) -> requests.Session:
        s = requests.Session()
        s.hooks["response"].append(self)
        return s

    @property
    def retries(self) -> list[int]:
        return [len(getattr(getattr(r.raw, "retries", None), "history", ())) for r in self.responses]
