"""Structured logs: one JSON object per line (or a readable console form), via structlog.

Every process (worker, gateway, CLI) calls `configure_logging` once, first thing. From then on
everything that logs ends up as one object per line on stderr with `event`, `level`,
`timestamp` (and `logger` for standard-library loggers): structlog loggers, the standard
library's (Faust, mode, aiokafka, uvicorn), libvips' warnings (pyvips forwards them to its
`pyvips` logger), librdkafka's (consumers built by infra/consumers.py log through the
`librdkafka` logger), Python warnings, and uncaught exceptions. The Faust worker must not
install its own handlers over these: photofeed/cli.py starts it with `override_logging=False`.
"""

from __future__ import annotations

import logging
import sys
import threading
from types import TracebackType

import structlog

# libraries whose INFO lines are per-request or per-step chatter (libvips: one per image
# operation): WARNING and above only
QUIET = ("aiokafka", "faust", "mode", "uvicorn.access", "httpx", "httpcore", "pyvips")


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    """Call once per process, from the composition root, before anything logs; calling it
    again replaces the previous configuration (the root logger keeps exactly one handler)."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    logging.captureWarnings(True)  # warnings.warn(...) -> the `py.warnings` logger
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_thread_crash


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    logging.getLogger("photofeed").critical("uncaught_exception", exc_info=(kind, exc, tb))


def _log_thread_crash(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    logging.getLogger("photofeed").critical(
        "uncaught_exception_in_thread",
        exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
    )
