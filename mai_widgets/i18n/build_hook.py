"""The package build's step that compiles the catalogues (hatch's custom build hook): each
``.po`` becomes the ``.mo`` Python reads and the ``.json`` JupyterLab serves to the side panel.
Only hatch loads this file; the wheel leaves it out."""

from __future__ import annotations

import sys
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CatalogueBuildHook(BuildHookInterface):  # type: ignore[misc]  # hatchling is untyped here
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":  # the sdist ships the .po; its wheel compiles them
            return
        sys.path.insert(0, self.root)
        try:
            from mai_widgets.i18n.catalogues import SOURCE_ROOT, compile_catalogues
        finally:
            sys.path.remove(self.root)
        for path in compile_catalogues():
            # git ignores the compiled files; artifacts are built in all the same
            build_data["artifacts"].append(path.relative_to(SOURCE_ROOT).as_posix())
