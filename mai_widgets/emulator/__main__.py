"""``python -m mai_widgets.emulator``: run the local ModelArts emulator until SIGTERM/Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import shlex
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .cli import EmulatorSettings


def main(argv: Sequence[str] | None = None) -> int:
    from .cli import parse_settings

    settings = parse_settings(argv)
    if settings.print_env:
        print(export_lines(settings), flush=True)
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # 4xx answers are the emulator doing its job; only log server errors.
    logging.getLogger("tornado.access").setLevel(logging.ERROR)
    from .server import serve

    try:
        asyncio.run(serve(settings))
    except OSError as exc:
        print(
            f"mai-widgets emulator: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
            file=sys.stderr,
            flush=True,
        )
        return 2
    return 0


def export_lines(settings: EmulatorSettings) -> str:
    """Shell ``export`` lines that point a terminal or a script at the emulator.

    They include the credentials only because these are the emulator's demo values; ones
    given on the command line instead are never printed (they may be real).
    """
    from .defaults import DEFAULTS
    from .process import emulator_env

    port = settings.port or DEFAULTS.demo_port
    env = emulator_env(settings, f"http://{settings.host}:{port}")
    lines = [
        "# The local ModelArts emulator's demo values: they open only the emulator on this machine.",
        f'# In a shell: eval "$(python -m mai_widgets.emulator --print-env --port {port})"',
    ]
    demo_secrets = {"HUAWEICLOUD_SDK_AK": DEFAULTS.ak, "HUAWEICLOUD_SDK_SK": DEFAULTS.sk}
    for name, value in env.items():
        if name in demo_secrets and value != demo_secrets[name]:
            lines.append(f"# {name}: not the demo value, so not printed; export it yourself")
        else:
            lines.append(f"export {name}={shlex.quote(value)}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
