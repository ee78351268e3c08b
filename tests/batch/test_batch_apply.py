"""plan, apply and export against the emulator over real HTTP: POSTs counted by the client's
own requests session, registrations by the emulator's sqlite store."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from emulator_clients import fast_config, registrations_per_path
from http_recorder import Recorder

from mai_widgets import batch
from mai_widgets.auth.credentials import Credentials
from mai_widgets.emulator import DEFAULTS, EmulatorProcess
from mai_widgets.errors import BatchFileError
from mai_widgets.services.session import Session

REG = DEFAULTS.registry
APPS = [f"mai-batch/app-{i:02d}:v1" for i in range(50)]


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    """50 images "pushed" to the emulator's SWR (amd64, ma-user), so registering them ends ACTIVE."""
    path = tmp_path / "catalogue.txt"
    path.write_text("".join(f"{REG}/{p}\n" for p in APPS))
    return path


def session_for(emu: EmulatorProcess, recorder: Recorder | None = None, **overrides: Any) -> Session:
    env = emu.env()
    config = fast_config(env, **{"max_retries": 6, **overrides})
    return Session(config, Credentials.from_env(env), session=recorder.session() if recorder else None)


def posts(recorder: Recorder, emu: EmulatorProcess) -> int:
    """Registrations sent (POST /v1/{project}/images), retries included."""
    path = f"/v1/{emu.project_id}/images"
    return sum(
        1 + n
        for r, n in zip(recorder.responses, recorder.retries, strict=True)
        if r.request.method == "POST" and r.request.path_url.split("?")[0] == path
    )


def fifty() -> batch.BatchFile:
    return batch.BatchFile.of([{"swr_path": p} for p in APPS], defaults={"arch": "X86_64"})


def test_apply_fifty_then_again_registers_nothing(
    emulator_factory: Callable[..., EmulatorProcess], catalogue: Path
) -> None:
    emu = emulator_factory(swr_catalogue=catalogue)
    seen = Recorder()
    events: list[batch.ApplyEvent] = []
    lock = threading.Lock()

    def heard(event: batch.ApplyEvent) -> None:
        assert lock.acquire(blocking=False)  # never two calls at once
        events.append(event)
        lock.release()

    first = batch.apply(fifty(), session=session_for(emu, seen), concurrency=8, on_event=heard)
    assert first.ok and first.counts() == {"active": 50}
    assert len(first.sent) == 50 and posts(seen, emu) == 50
    assert registrations_per_path(emu) == {f"{REG}/{p}": 1 for p in APPS}
    # every entry went registering -> following -> active, and the last event counts all done
    for index in (1, 50):
        states = [e.entry.state for e in events if e.entry.index == index]
        assert states[0] == "registering" and states[-1] == "active" and "following" in states
    assert events[-1].done == events[-1].total == 50

    again = Recorder()
    second = batch.apply(fifty(), session=session_for(emu, again), concurrency=8)
    assert second.ok and second.counts() == {"same": 50} and second.sent == ()
    assert posts(again, emu) == 0
    lists = [r for r in again.responses if r.request.method == "GET" and "type=DEDICATED" in r.request.url]
    assert len(lists) == 1  # one listing of the user's images, not a look-up per entry


def test_plan_against_a_mixed_state(
    emulator_factory: Callable[..., EmulatorProcess], catalogue: Path
) -> None:
    emu = emulator_factory(swr_catalogue=catalogue)
    setup = session_for(emu)
    batch.apply(
        batch.BatchFile.of(
            [
                {"swr_path": APPS[0]},
                {"swr_path": APPS[1], "arch": "AARCH64", "description": "old"},
                {"swr_path": "mai-batch/gone:v1"},  # not in SWR: ends CREATE_FAILED
            ]
        ),
        session=setup,
    )
    file = batch.BatchFile.of(
        [
            {"swr_path": APPS[0]},  # same
            {"swr_path": APPS[1], "arch": "X86_64", "description": "new"},  # differs
            {"swr_path": "mai-batch/gone:v1"},  # failed
            {"swr_path": APPS[2], "arch": "SPARC"},  # invalid
            {"swr_path": "mai-batch/nowhere:v1"},  # new, not in SWR
            {"swr_path": "mai-demo/mindspore-ascend:2.3.0-aarch64"},  # new, wrong arch
            {"swr_path": "mai-demo/sklearn:1.5.0", "services": ["NOTEBOOK"]},  # new, not ma-user
            {"swr_path": APPS[3]},  # new
        ]
    )
    seen = Recorder()
    heard: list[int] = []
    result = batch.plan(
        file, session=session_for(emu, seen), concurrency=4, on_event=lambda e: heard.append(e.done)
    )
    by = {e.index: e for e in result.entries}
    assert [e.state for e in result.entries] == [
        "same", "differs", "failed", "invalid", "new", "new", "new", "new"
    ]  # fmt: skip
    assert [(d.field, d.existing, d.requested) for d in by[2].differences] == [
        ("arch", "AARCH64", "X86_64"),
        ("description", "old", "new"),
    ]
    assert "arch: 'SPARC' is not one of X86_64, AARCH64" in by[4].detail()
    assert by[5].blocked and "There is no repository mai-batch/nowhere" in by[5].detail()
    assert [c.name for c in by[6].findings] == ["architecture"] and not by[6].blocked
    assert [c.name for c in by[7].findings] == ["user"]
    assert by[8].ok and by[8].checks and not by[8].findings
    assert by[1].checks == ()  # registered entries are not checked again
    assert not result.ok and result.listings == 1 and sorted(heard) == list(range(1, 9))
    assert posts(seen, emu) == 0  # a plan registers nothing
    assert by[3].blocked  # failed, and its image is not in SWR: replacing it would fail again
    assert result.counts() == {"new": 4, "same": 1, "differs": 1, "failed": 1, "invalid": 1, "blocked": 2}
    # one SWR login for all the checks
    logins = [r for r in seen.responses if r.request.path_url.startswith("/v2/manage/utils/secret")]
    assert len(logins) == 1

    # apply refuses a file with an invalid entry before sending anything
    with pytest.raises(BatchFileError, match=r"entry 4 .*arch: 'SPARC' is not one of"):
        batch.apply(file, session=setup)
    # differs is reported and left alone; failed is replaced only when asked
    fixed = batch.BatchFile.of([e.entry.own for e in result.entries if e.state != "invalid"])
    outcome = batch.apply(fixed, session=setup, concurrency=4)
    states = {e.swr_path.removeprefix(f"{REG}/"): e for e in outcome.entries}
    assert (
        states[APPS[1]].state == "differs"
        and "Architecture AARCH64 (file: X86_64)" in states[APPS[1]].message()
    )
    assert states["mai-batch/gone:v1"].state == "failed" and not states["mai-batch/gone:v1"].sent
    assert not outcome.ok
    old = states["mai-batch/gone:v1"].record
    assert old is not None
    replaced = batch.apply(fixed, session=setup, replace_failed=True)
    gone = next(e for e in replaced.entries if e.swr_path.endswith("gone:v1"))
    assert gone.replaced == old.id and gone.record is not None and gone.record.id != old.id
    assert registrations_per_path(emu)[f"{REG}/mai-batch/gone:v1"] == 2  # the failed one deleted, one new
    assert next(e for e in replaced.entries if e.swr_path.endswith(APPS[1])).state == "differs"


@pytest.mark.parametrize("seed", [7])
def test_apply_through_faults_registers_each_entry_once(
    emulator_factory: Callable[..., EmulatorProcess], catalogue: Path, seed: int
) -> None:
    emu = emulator_factory(
        swr_catalogue=catalogue, fault_rate=0.2, faults="500,503,429,drop", fault_seed=seed, retry_after=1
    )
    seen = Recorder()
    result = batch.apply(fifty(), session=session_for(emu, seen), concurrency=8)
    assert result.ok, [e.to_json() for e in result.entries if e.state != "active"]
    assert registrations_per_path(emu) == {f"{REG}/{p}": 1 for p in APPS}  # every entry once, no duplicates
    faults = [r.headers.get("X-Emulator-Fault", "") for r in seen.responses]
    assert sum(bool(f) for f in faults) >= 10 and any(f.endswith(";after") for f in faults)
    again = batch.apply(fifty(), session=session_for(emu))
    assert again.ok and again.sent == ()


def test_stop_sends_nothing_more_and_a_second_apply_finishes(
    emulator_factory: Callable[..., EmulatorProcess], catalogue: Path
) -> None:
    emu = emulator_factory(swr_catalogue=catalogue, latency=0.1)
    stop = threading.Event()

    def heard(event: batch.ApplyEvent) -> None:
        if event.entry.state == "following" and event.entry.sent and len(registrations_per_path(emu)) >= 6:
            stop.set()

    first = batch.apply(fifty(), session=session_for(emu), concurrency=2, stop=stop, on_event=heard)
    assert first.stopped and not first.ok
    sent = {e.swr_path for e in first.sent}
    assert 6 <= len(sent) < 50
    assert set(registrations_per_path(emu)) == sent  # it reports exactly what was sent
    assert {e.state for e in first.entries if not e.sent} == {"not-sent"}
    second = batch.apply(fifty(), session=session_for(emu), concurrency=8)
    assert second.ok and len(second.sent) == 50 - len(sent)
    assert registrations_per_path(emu) == {f"{REG}/{p}": 1 for p in APPS}


def test_export_then_apply_into_another_project_round_trips(
    emulator_factory: Callable[..., EmulatorProcess], catalogue: Path
) -> None:
    source = emulator_factory(swr_catalogue=catalogue)
    target = emulator_factory(swr_catalogue=catalogue, project_id="f" * 32)
    file = batch.BatchFile.of(
        [
            {"swr_path": APPS[0], "description": "first: with 'quotes'"},
            {"swr_path": APPS[1], "arch": "AARCH64", "resource_category": ["ASCEND"]},
            {"swr_path": APPS[2], "services": ["NOTEBOOK"], "visibility": "PUBLIC", "service_type": "TRAIN"},
            {"swr_path": f"{REG}/{APPS[3]}"},
        ]
    )
    assert batch.apply(file, session=session_for(source)).ok
    exported = batch.export(session=session_for(source))
    text = batch.dumps(exported)
    assert f"swr_path: {APPS[3]}\n" in text and REG not in text  # host-less: the host follows the region
    assert "arch: X86_64" not in text  # the field table's defaults are left out
    assert batch.loads(text).to_data() == exported.to_data()
    plan = batch.plan(batch.loads(text), session=session_for(source), preflight=False)
    assert {e.state for e in plan.entries} == {"same"}

    result = batch.apply(batch.loads(text), session=session_for(target))
    assert result.ok and len(result.sent) == 4
    assert batch.dumps(batch.export(session=session_for(target))) == text
    assert batch.dumps(batch.export(session=session_for(target), name="app-01")).count("swr_path") == 1
    assert batch.export(session=session_for(target), status="CREATE_FAILED").entries == ()
