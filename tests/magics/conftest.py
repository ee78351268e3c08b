"""The IPython shell every magic test drives: IPython's own test shell, with the extension loaded."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing import globalipapp

from mai_widgets.magics import load_ipython_extension


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    # The module attribute: after the first call it is the shell itself (the imported name is not).
    ip = globalipapp.get_ipython()
    load_ipython_extension(ip)
    return ip
