"""``python -m mai_widgets.emulator``: run the local ModelArts emulator until SIGTERM/Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from .cli import parse_settings

    settings = parse_settings(argv)
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


if __name__ == "__main__":
    sys.exit(main())
