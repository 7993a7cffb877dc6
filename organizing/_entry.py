"""The ``organizing`` command's entry point, light on purpose.

Importing the command line takes seconds (pandas, pandera, pydantic). A Ctrl-C
or SIGTERM in that time must give the same one line and exit status as later,
not a traceback from inside an import, so the signals are handled here before
anything heavy is imported.
"""

import signal
import sys


class _Terminated(BaseException):
    pass


def _on_sigterm(signum, frame):
    raise _Terminated


def main(argv: list[str] | None = None) -> int:
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        from organizing.cli import main as command
    except (KeyboardInterrupt, _Terminated) as caught:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        interrupted = isinstance(caught, KeyboardInterrupt)
        print(f"{'interrupted' if interrupted else 'terminated'}; nothing was cached",
              file=sys.stderr, flush=True)
        return 130 if interrupted else 143
    finally:
        signal.signal(signal.SIGTERM, previous)
    return command(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
