"""The file of images to register: YAML, or JSON of the same shape.

.. code-block:: yaml

    defaults:              # optional: every entry gets these unless it sets its own
      arch: X86_64
      resource_category: [CPU, GPU]
    images:
      - swr_path: my-org/pytorch:2.3.0
        description: PyTorch 2.3 for notebooks
      - swr_path: my-org/pytorch:2.3.0-arm
        arch: AARCH64

The keys are the register field table's names (:data:`~mai_widgets.wire.contract.REGISTER_FIELD_TABLE`);
so are the checks of the values and their messages. What makes the file unusable is a
:class:`~mai_widgets.errors.BatchFileError` at :func:`load` (not YAML, the wrong shape, an unknown
key, a key twice, a path twice); a value the field table refuses (``arch: SPARC``) leaves its
entry *invalid*, which :func:`~mai_widgets.batch.plan` shows and :func:`~mai_widgets.batch.apply`
refuses. A host-less path (``my-org/pytorch:2.3.0``) stays host-less here and is completed with
the region's registry where the file is applied.
"""

from __future__ import annotations

import datetime
import difflib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..errors import BatchFileError, FieldProblem
from ..i18n import N_
from ..wire.contract import (
    FIELDS_BY_NAME,
    REGISTER_FIELDS,
    RegisterRequest,
    complete_swr_path,
    parse_register_fields,
)

__all__ = [
    "MAX_ENTRIES",
    "MAX_FILE_BYTES",
    "BatchFile",
    "Entry",
    "Format",
    "dumps",
    "load",
    "loads",
]

Format = Literal["yaml", "json"]
TOP_LEVEL_KEYS = ("defaults", "images")
# Far beyond any real set (20 to 200 images), small enough that a wrong file fails at once.
MAX_ENTRIES = 50_000
MAX_FILE_BYTES = 32 << 20
# Problems listed before "and N more": a wrong file is told, not dumped.
_PROBLEMS_SHOWN = 50
HEADER = "# ModelArts images: check with `mai-widgets plan FILE`, register with `mai-widgets apply FILE`\n"


# ---------------------------------------------------------------------------------------
# Reading YAML: the safe loader (plain data only, as yaml.safe_load), which also refuses a key
# given twice in one mapping (safe_load keeps the last silently) and remembers each mapping's line.

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[valid-type,misc]
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.lines: dict[int, int] = {}  # id(mapping) -> its 1-based line

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag.endswith(":str"):
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key {key_node.value!r} is given twice", key_node.start_mark
                    )
                seen.add(key_node.value)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping

    def construct_lined_map(self, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
        data: dict[Any, Any] = {}
        self.lines[id(data)] = node.start_mark.line + 1
        yield data
        data.update(self.construct_mapping(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_lined_map)


class _Dumper(yaml.SafeDumper):
    """safe_dump's dumper; lists of plain values in flow style (``[CPU, GPU]``), the rest in blocks."""

    def represent_plain_list(self, data: list[Any]) -> yaml.Node:
        flow = all(not isinstance(v, (dict, list)) for v in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _Dumper.represent_plain_list)


def _read_yaml(text: str, source: str) -> tuple[Any, dict[int, int]]:
    loader = _Loader(text)
    try:
        return loader.get_single_data(), loader.lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p) or "not valid YAML"
        raise BatchFileError([f"{source}{where}: {what}"], hint=N_("this is not valid YAML")) from None
    except yaml.YAMLError as exc:
        raise BatchFileError([f"{source}: {exc}"], hint=N_("this is not valid YAML")) from None
    finally:
        loader.dispose()


def _read_json(text: str, source: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise ValueError(f"the key {key!r} is given twice")
            out[key] = value
        return out

    try:
        return json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise BatchFileError(
            [f"{source} line {exc.lineno}, column {exc.colno}: {exc.msg}"], hint=N_("this is not valid JSON")
        ) from None
    except (ValueError, RecursionError) as exc:
        raise BatchFileError([f"{source}: {exc}"], hint=N_("this is not valid JSON")) from None


# ---------------------------------------------------------------------------------------
# The file


@dataclass(frozen=True)
class Entry:
    """One image of the file: ``own`` is what its entry says, ``fields`` that over the defaults."""

    index: int  # 1-based position in ``images``
    own: Mapping[str, Any]
    fields: Mapping[str, Any]
    line: int | None = None  # where the entry starts (YAML)

    @property
    def swr_path(self) -> str:
        """The path as written (host-less paths stay host-less)."""
        return str(self.fields.get("swr_path", ""))

    def where(self) -> str:
        """How messages name the entry: ``entry 3 (line 12, my-org/pytorch:2.3.0)``."""
        parts = [f"line {self.line}"] if self.line is not None else []
        if self.swr_path:
            parts.append(self.swr_path)
        return f"entry {self.index}" + (f" ({', '.join(parts)})" if parts else "")

    def parse(self, region: str) -> tuple[RegisterRequest | None, tuple[FieldProblem, ...]]:
        """The register request of this entry in ``region`` (a host-less path gets the region's
        registry), or every problem the field table finds with it."""
        values = dict(self.fields)
        values["swr_path"] = complete_swr_path(self.swr_path, region)
        request, problems = parse_register_fields(values)
        return request, tuple(_explained(p, values.get(p.field)) for p in problems)


def _explained(problem: FieldProblem, value: Any) -> FieldProblem:
    # YAML reads 0, 2.3, true and 2024-01-01 as numbers, booleans and dates: say how to keep text.
    spec = FIELDS_BY_NAME.get(problem.field)
    typed = (int, float, bool, datetime.date)
    if spec is not None and spec.enum is None and not spec.multiple and isinstance(value, typed):
        return FieldProblem(problem.field, f"{problem.message} (write it in quotes: '{value}')")
    return problem


@dataclass(frozen=True)
class BatchFile:
    """The images of one file, in order; ``defaults`` as the file gives them."""

    entries: tuple[Entry, ...]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    source: str = "<text>"

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    @classmethod
    def of(
        cls,
        images: Sequence[Mapping[str, Any]],
        defaults: Mapping[str, Any] | None = None,
        source: str = "<data>",
    ) -> BatchFile:
        """A file from Python data (the shape of the YAML), checked as :func:`load` checks it."""
        data: dict[str, Any] = {"images": list(images)}
        if defaults:
            data["defaults"] = defaults
        return _from_data(data, source, {})

    def to_data(self) -> dict[str, Any]:
        """The file as plain data: ``{"defaults": ..., "images": [...]}`` (no defaults: left out)."""
        out: dict[str, Any] = {}
        if self.defaults:
            out["defaults"] = _plain(self.defaults)
        out["images"] = [_plain(e.own) for e in self.entries]
        return out

    def requests(
        self, region: str
    ) -> list[tuple[Entry, str, RegisterRequest | None, tuple[FieldProblem, ...]]]:
        """Each entry with its completed path and its request (or problems) in ``region``.

        Raises :class:`BatchFileError` when two entries name one image there (``my-org/x:1`` and
        the region's ``swr.{region}.myhuaweicloud.com/my-org/x:1``).
        """
        out = []
        first: dict[str, Entry] = {}
        duplicates: list[str] = []
        for entry in self.entries:
            request, problems = entry.parse(region)
            path = request.swr_path if request is not None else complete_swr_path(entry.swr_path, region)
            if path in first:
                duplicates.append(_duplicate(self.source, entry, first[path]))
            first.setdefault(path, entry)
            out.append((entry, path, request, problems))
        if duplicates:
            raise _file_error(duplicates)
        return out


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def _duplicate(source: str, entry: Entry, first: Entry) -> str:
    return f"{source}: {entry.where()}: the same image as entry {first.index}; list each image once"


def _file_error(problems: list[str]) -> BatchFileError:
    shown = problems[:_PROBLEMS_SHOWN]
    if len(problems) > len(shown):
        shown.append(f"... and {len(problems) - len(shown)} more")
    return BatchFileError(shown)


def _nearest(key: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, choices, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else f" (the keys are {', '.join(choices)})"


def _check_keys(values: Mapping[Any, Any], where: str, problems: list[str]) -> None:
    for key in values:
        if not isinstance(key, str):
            problems.append(
                f"{where}: the key {key!r} is not a field name{_nearest(str(key), REGISTER_FIELDS)}"
            )
        elif key not in FIELDS_BY_NAME:
            problems.append(f"{where}: unknown key {key!r}{_nearest(key, REGISTER_FIELDS)}")


def _from_data(data: Any, source: str, lines: Mapping[int, int]) -> BatchFile:
    if not isinstance(data, Mapping):
        shape = "empty" if data is None else f"a {type(data).__name__}"
        raise BatchFileError(
            [f"{source}: the file is {shape}, not a mapping with 'images' (and optionally 'defaults')"],
            hint=N_("start the file with 'images:' and list one '- swr_path: ...' per image"),
        )
    problems: list[str] = []
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            problems.append(f"{source}: unknown top-level key {key!r}{_nearest(str(key), TOP_LEVEL_KEYS)}")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        problems.append(f"{source}: 'defaults' must be a mapping of field names to values")
        defaults = {}
    _check_keys(defaults, f"{source}: defaults", problems)
    if "swr_path" in defaults:
        problems.append(f"{source}: defaults: swr_path names one image; give it in each entry")
    images = data.get("images")
    if not isinstance(images, list):
        problems.append(f"{source}: 'images' must be a list of entries, each with an swr_path")
        raise _file_error(problems)
    if len(images) > MAX_ENTRIES:
        raise BatchFileError([f"{source}: {len(images)} images; at most {MAX_ENTRIES} in one file"])
    entries: list[Entry] = []
    first: dict[str, int] = {}
    for index, item in enumerate(images, start=1):
        line = lines.get(id(item))
        if not isinstance(item, Mapping):
            where = f"entry {index}" + (f" (line {line})" if line else "")
            problems.append(f"{source}: {where}: must be a mapping such as {{swr_path: org/name:tag}}")
            continue
        entry = Entry(index, dict(item), {**defaults, **item}, line)
        _check_keys(item, f"{source}: {entry.where()}", problems)
        path = item.get("swr_path")
        if not isinstance(path, str) or not path.strip():
            problems.append(f"{source}: {entry.where()}: swr_path is required (a text: org/name:tag)")
        elif path.strip() in first:
            problems.append(_duplicate(source, entry, entries[first[path.strip()]]))
        else:
            first[path.strip()] = len(entries)
        entries.append(entry)
    if problems:
        raise _file_error(problems)
    return BatchFile(tuple(entries), dict(defaults), source)


def loads(text: str, *, source: str = "<text>", format: Format | None = None) -> BatchFile:
    """Read a file's text; ``format`` ``"json"`` reads JSON, else YAML (which reads JSON too)."""
    if len(text) > MAX_FILE_BYTES:
        raise BatchFileError([f"{source}: larger than {MAX_FILE_BYTES >> 20} MB"])
    if format == "json":
        return _from_data(_read_json(text, source), source, {})
    data, lines = _read_yaml(text, source)
    return _from_data(data, source, lines)


def load(path: str | Path) -> BatchFile:
    """Read the file at ``path`` (``.json``: JSON, else YAML); every problem is a
    :class:`BatchFileError` naming the file, the entry and the key."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise BatchFileError([f"{file}: larger than {MAX_FILE_BYTES >> 20} MB"])
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BatchFileError([f"{file}: not a UTF-8 text file"]) from None
    except OSError as exc:
        raise BatchFileError(
            [f"{file}: cannot read it ({exc.strerror})"], hint=N_("check the file name")
        ) from None
    return loads(text, source=str(file), format="json" if file.suffix.lower() == ".json" else "yaml")


def dumps(file: BatchFile, format: Format = "yaml") -> str:
    """The file as text; :func:`loads` reads it back to the same entries."""
    data = file.to_data()
    if format == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    text = yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=4096
    )
    return HEADER + text
