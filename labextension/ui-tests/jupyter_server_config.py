"""JupyterLab for the browser tests: Galata's test settings, on loopback, as root if need be.

servers.py sets MAI_UI_PORT and MAI_UI_ROOT; the emulator's variables are in the environment,
so the kernels JupyterLab starts inherit them.
"""

import os

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # type: ignore[name-defined]  # noqa: F821
configure_jupyter_server(c)
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = int(os.environ["MAI_UI_PORT"])
c.ServerApp.root_dir = os.environ["MAI_UI_ROOT"]
c.ServerApp.allow_root = True
c.ServerApp.open_browser = False
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
