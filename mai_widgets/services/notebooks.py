"""Saving a notebook instance as an image: which instance is "this one", and following a save.

The calls themselves are :class:`~mai_widgets.services.images.ImageClient`'s
(``list_notebooks``, ``get_notebook``, ``save_notebook``); this module adds the two things built
on them: :func:`this_notebook` and :func:`follow_save`.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import FieldProblem, MaiWidgetsError, ValidationError
from ..transport.addresses import is_loopback
from ..transport.deadline import Cancel, Deadline
from ..wire.contract import ImageRecord, ImageStatus
from ..wire.notebooks import NotebookRecord, NotebookStatus, validate_notebook_id
from .follow import Follow, FollowOutcome

if TYPE_CHECKING:
    from .images import ImageClient

__all__ = ["SaveProgress", "follow_save", "local_ipv4_addresses", "this_notebook"]

# Where the emulator's demo instances "run": a real instance's ip is never a loopback address, so
# it is asked only of a ModelArts endpoint on this machine (the emulator).
_LOOPBACK = "127.0.0.1"
# A documentation address (TEST-NET-1): "connecting" a UDP socket to it sends nothing and tells
# which local address the default route uses.
_ROUTE_PROBE = ("192.0.2.1", 9)


def local_ipv4_addresses() -> tuple[str, ...]:
    """This machine's IPv4 addresses (not loopback): the host name's and the default route's."""
    found: set[str] = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(str(info[4][0]))
    except OSError:
        pass
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(_ROUTE_PROBE)
            found.add(str(probe.getsockname()[0]))
    except OSError:
        pass
    usable = [a for a in found if not (ipaddress.IPv4Address(a).is_loopback or a == "0.0.0.0")]  # noqa: S104
    return tuple(sorted(usable))


def this_notebook(
    client: ImageClient,
    notebook_id: str | None = None,
    *,
    addresses: Iterable[str] | None = None,
    timeout: float | None = None,
) -> str | None:
    """The id of the notebook instance this kernel runs in, when it can be told; else ``None``
    (the user picks from :meth:`ImageClient.list_notebooks`).

    In this order:

    1. ``notebook_id``, given explicitly (``--notebook``, an argument);
    2. the setting ``notebook_id`` (``MAI_WIDGETS_NOTEBOOK_ID`` or ``c.MaiConfig.notebook_id``);
    3. exactly one RUNNING instance whose ``ip`` is an address of this machine (``addresses``,
       default :func:`local_ipv4_addresses`; plus 127.0.0.1 when ModelArts is the local emulator),
       found with the list's ``ip`` filter. **(u)** No public source says what a notebook's
       ``ip`` is (the node's address, the container's?) nor names an environment variable that
       carries an instance's own id: this step is a guess, kept here alone so it is easy to
       change. Several matches (or none) decide nothing.

    Steps 1 and 2 send nothing; step 3 lists instances (its errors are raised, typed).
    """
    if notebook_id:
        return validate_notebook_id(notebook_id, "notebook")
    configured = str(client.config.notebook_id or "")
    if configured:
        return validate_notebook_id(configured, "notebook_id")
    wanted = list(addresses) if addresses is not None else list(local_ipv4_addresses())
    if addresses is None and is_loopback(urlsplit(client.config.modelarts_endpoint()).hostname or ""):
        wanted.append(_LOOPBACK)
    matches: dict[str, NotebookRecord] = {}
    for address in dict.fromkeys(wanted):
        for record in client.list_notebooks(status=NotebookStatus.RUNNING, ip=address, timeout=timeout):
            if record.is_running and record.ip == address:  # a server that ignores the filter
                matches[record.id] = record
    return next(iter(matches)) if len(matches) == 1 else None


@dataclass(frozen=True)
class SaveProgress:
    """How :func:`follow_save` ended: the last instance and image records, and why it stopped.

    ``errors`` holds what ended the following of one of them early (the instance deleted, the
    image gone...), by id.
    """

    notebook: NotebookRecord | None
    image: ImageRecord
    outcome: FollowOutcome
    polls: int
    elapsed: float
    errors: dict[str, MaiWidgetsError] = field(default_factory=dict)

    @property
    def settled(self) -> bool:
        return self.outcome == "settled"

    @property
    def succeeded(self) -> bool:
        """The image is ACTIVE (the instance is then RUNNING again, or its own state says why not)."""
        return self.settled and self.image.status == ImageStatus.ACTIVE


def follow_save(
    client: ImageClient,
    notebook_id: str,
    image: ImageRecord,
    *,
    timeout: float | None = None,
    on_notebook: Callable[[NotebookRecord], None] | None = None,
    on_image: Callable[[ImageRecord], None] | None = None,
    on_poll: Callable[[int], None] | None = None,
    stop: threading.Event | Cancel | None = None,
) -> SaveProgress:
    """Follow a save until both settle: the instance (SNAPSHOTTING -> RUNNING) and the image
    ``save_notebook`` returned (INIT -> CREATING -> ACTIVE, or CREATE_FAILED / ERROR).

    One loop (:class:`~mai_widgets.services.follow.Follow`) reads both each round, with the
    client's poll schedule, until both settle, ``timeout`` passes (default ``wait_timeout``) or
    ``stop`` is set. ``on_notebook`` and ``on_image`` hear the first record of each and every
    change of status (``image`` itself is not heard again); call them from a thread of your own
    to keep a UI live.
    """
    notebook_id = validate_notebook_id(notebook_id)
    limit = float(client.config.wait_timeout if timeout is None else timeout)
    if not limit >= 0:
        raise ValidationError([FieldProblem("timeout", "must be a number of seconds, at least 0")])
    errors: dict[str, MaiWidgetsError] = {}

    def heard_image(record: ImageRecord, previous: ImageRecord | None) -> None:
        if on_image is not None and (previous is None or record.status != previous.status):
            on_image(record)

    def heard_notebook(record: NotebookRecord, previous: NotebookRecord | None) -> None:
        if on_notebook is not None and (previous is None or record.status != previous.status):
            on_notebook(record)

    def gave_up(item_id: str, error: MaiWidgetsError) -> bool:
        errors[item_id] = error
        return False  # stop following that one; the other goes on

    started = time.monotonic()
    follow = Follow(
        client,
        known=[image],
        notebooks=[notebook_id],
        on_record=heard_image,
        on_notebook=heard_notebook,
        on_error=gave_up,
        on_poll=on_poll,
    )
    outcome = follow.run(Deadline(limit), stop)
    return SaveProgress(
        notebook=follow.notebook_records.get(notebook_id),
        image=follow.records.get(image.id, image),
        outcome=outcome,
        polls=follow.requests,
        elapsed=time.monotonic() - started,
        errors=errors,
    )
