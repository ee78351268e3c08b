"""Register many images at once: a file, a plan, an apply, and an export.

.. code-block:: python

    from mai_widgets import batch

    images = batch.load("images.yaml")            # BatchFile; BatchFileError names entry and key
    print(batch.plan(images).counts())            # new / same / differs / failed / invalid / blocked
    result = batch.apply(images, concurrency=8, on_event=lambda e: print(e.entry.state))
    result.ok                                     # every entry ACTIVE or registered the same way
    text = batch.dumps(batch.export(name="pytorch"))

Services-level: no widget or IPython import. The console script (:mod:`mai_widgets.cli`) and
the ``%register_images`` magic are built on these functions.
"""

from __future__ import annotations

from .apply import (
    DEFAULT_CONCURRENCY,
    FINAL_STATES,
    OK_STATES,
    ApplyEvent,
    ApplyResult,
    ApplyState,
    EntryResult,
    apply,
)
from .export import export
from .file import MAX_ENTRIES, BatchFile, Entry, Format, dumps, load, loads
from .plan import (
    DEFAULT_PLAN_CONCURRENCY,
    MAX_CONCURRENCY,
    EntryPlan,
    Plan,
    PlanEvent,
    PlanState,
    plan,
    signed_in_session,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_PLAN_CONCURRENCY",
    "FINAL_STATES",
    "MAX_CONCURRENCY",
    "MAX_ENTRIES",
    "OK_STATES",
    "ApplyEvent",
    "ApplyResult",
    "ApplyState",
    "BatchFile",
    "Entry",
    "EntryPlan",
    "EntryResult",
    "Format",
    "Plan",
    "PlanEvent",
    "PlanState",
    "apply",
    "dumps",
    "export",
    "load",
    "loads",
    "plan",
    "signed_in_session",
]
