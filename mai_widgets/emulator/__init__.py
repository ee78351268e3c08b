"""A local ModelArts image-management emulator (with the IAM routes it needs).

Run it with ``python -m mai_widgets.emulator --data-dir DIR``; from Python or tests use
:class:`EmulatorProcess`. It is a real HTTP server over a real socket; nothing in the client
knows it is not ModelArts.

Answers follow the SDK's models (``huaweicloudsdkmodelarts``), ModelArts' published error
codes and the Terraform provider's handling of the real service; where the sources allow
several, a flag chooses (see :mod:`.cli`). Clients must not depend on more:

- Already registered answers 400 ``ModelArts.2884`` (or ``ModelArts.6737``, by flag).
- A project id in the path other than the emulator's (or than the token's / ``X-Project-Id``)
  answers 403 ``ModelArts.0210``; an unknown route or method 404 ``APIG.0101``.
- Missing or bad credentials, bad signature, X-Sdk-Date off by more than 15 minutes, or a
  wrong security token answer 401 ``APIG.0301``; an unknown IAM token 401 ``APIG.0307``, an
  expired one as ``--expired-token-answer`` says. IAM tokens are kept in sqlite, so a restart
  does not invalidate them.
- A path id not matching ``contract.IMAGE_ID_RE`` answers 400 ``ModelArts.0104``; an unknown
  id 400 ``ModelArts.6404`` (or ``ModelArts.6797``, by flag). A deleted image still shows
  (status DELETED) but is not listed.
- List: no ``type`` means BUILD_IN, the service's presets (the SDK's documented default); the
  user's images are DEDICATED. ``name_fuzzy_match`` defaults to true (substring match);
  ``offset`` counts records; ``current`` is the 1-based page ``offset // limit + 1``; ``size``
  is the number of records in this page. Groups are per (namespace, name).
- ``arch`` comes back in lower case (``x86_64``), as in the API page's own example.
- Every response has ``X-Request-Id`` and ``Server-Timing: app;dur=<ms>``; an injected fault
  is labelled in ``X-Emulator-Fault`` (``503;after``), except a dropped connection.
"""

from __future__ import annotations

from .defaults import DEFAULTS, DEMO_SWR_IMAGES
from .process import EmulatorError, EmulatorProcess
from .store import ImageStore

__all__ = ["DEFAULTS", "DEMO_SWR_IMAGES", "EmulatorError", "EmulatorProcess", "ImageStore"]
