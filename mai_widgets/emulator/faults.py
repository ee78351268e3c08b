"""Seeded fault injection for the image routes (never the IAM routes).

Each image-route request draws exactly three numbers from one seeded RNG, whatever the
outcome, so the same seed and the same request sequence give the same faults. A fault
happens either *before* the operation (nothing changed) or *after* it took effect (the
change is committed, but the client sees a failure): the second is what forces a client to
ask "was it registered?" before retrying. 429 is always *before*, as throttling is.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FAULT_KINDS: tuple[str, ...] = ("500", "503", "429", "drop", "slow", "malformed")


@dataclass(frozen=True)
class Fault:
    kind: str
    after: bool

    @property
    def label(self) -> str:
        """What the ``X-Emulator-Fault`` response header says, e.g. ``503;after``."""
        return f"{self.kind};{'after' if self.after else 'before'}"


def parse_fault_kinds(text: str) -> tuple[str, ...]:
    """``"500,503,drop"`` → the kinds; raises ``ValueError`` naming unknown ones."""
    kinds = tuple(dict.fromkeys(k.strip().lower() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        raise ValueError(f"unknown fault kind(s) {', '.join(unknown)}; choose from {', '.join(FAULT_KINDS)}")
    if not kinds:
        raise ValueError(f"no fault kinds given; choose from {', '.join(FAULT_KINDS)}")
    return kinds


class FaultInjector:
    """Decides, request by request, whether and how to misbehave."""

    def __init__(self, rate: float, kinds: tuple[str, ...] = FAULT_KINDS, seed: int | None = None) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("fault rate must be between 0 and 1")
        self.rate = rate
        self.kinds = kinds
        self._rng = random.Random(seed)

    def draw(self) -> Fault | None:
        hit, pick, phase = self._rng.random(), self._rng.random(), self._rng.random()
        fault: Fault | None = None
        if self.rate > 0 and hit < self.rate:
            kind = self.kinds[min(int(pick * len(self.kinds)), len(self.kinds) - 1)]
            fault = Fault(kind, after=kind != "429" and phase < 0.5)
        return fault
