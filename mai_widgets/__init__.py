"""mai-widgets: register custom images with Huawei Cloud ModelArts from JupyterLab.

The core (``contract``, ``errors``, ``auth``, ``config``, ``client``) imports neither
ipywidgets nor IPython, so scripts get a fast import; the widget names below are loaded
on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .browser import ImageBrowser
    from .panel import RegisterPanel
    from .status import StatusView
    from .workbench import Workbench

__all__ = [
    "ImageBrowser",
    "RegisterPanel",
    "StatusView",
    "Workbench",
    "__version__",
    "load_ipython_extension",
]


def __getattr__(name: str) -> Any:
    # Lazy so that ``import mai_widgets.client`` never pays for ipywidgets.
    if name == "RegisterPanel":
        from .panel import RegisterPanel

        return RegisterPanel
    if name == "StatusView":
        from .status import StatusView

        return StatusView
    if name == "ImageBrowser":
        from .browser import ImageBrowser

        return ImageBrowser
    if name == "Workbench":
        from .workbench import Workbench

        return Workbench
    raise AttributeError(f"module 'mai_widgets' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext mai_widgets``: registers ``%register_image``."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "mai-widgets"}]
