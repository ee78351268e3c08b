"""A local ModelArts image-management emulator (with the IAM routes it needs).

Run it with ``python -m mai_widgets.emulator --data-dir DIR``; from Python or tests use
:class:`EmulatorProcess`. It is a real HTTP server over a real socket; nothing in the client
knows it is not ModelArts.

Choices where the public documentation is silent (clients must not depend on more):

- ModelArts.2884 (SWR path already registered and not deleted) answers HTTP 400.
- A project id in the path other than the emulator's (or than the token's / ``X-Project-Id``)
  answers 403 ``APIGW.0302``; an unknown route or method 404 ``APIGW.0101``.
- Missing or bad credentials, bad signature, X-Sdk-Date off by more than 15 minutes, or a
  wrong security token answer 401 ``APIGW.0301``; an unknown or expired IAM token 401
  ``APIGW.0307``. IAM tokens are kept in sqlite, so a restart does not invalidate them.
- A path id not matching ``contract.IMAGE_ID_RE`` answers 400 ``ModelArts.0104``; an unknown
  id 404 ``ModelArts.6797``. A deleted image still shows (status DELETED) but is not listed.
- List: no ``type`` filter means every image (the real API documents BUILD_IN as default:
  send ``type=DEDICATED``); ``name_fuzzy_match`` defaults to true (substring match); ``offset``
  counts records; ``current`` is the 1-based page ``offset // limit + 1``; ``size`` is the
  number of records in this page. Groups are per (namespace, name).
- ``arch`` comes back in lower case (``x86_64``), as in the API page's own example.
- Every response has ``X-Request-Id`` and ``Server-Timing: app;dur=<ms>``; an injected fault
  is labelled in ``X-Emulator-Fault`` (``503;after``), except a dropped connection.
"""

from __future__ import annotations

from .defaults import DEFAULTS, DEMO_SWR_IMAGES
from .process import EmulatorError, EmulatorProcess
from .store import ImageStore

__all__ = ["DEFAULTS", "DEMO_SWR_IMAGES", "EmulatorError", "EmulatorProcess", "ImageStore"]
