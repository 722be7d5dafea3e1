"""Telling endless responses (the change feed's event streams) that the server is stopping.

On SIGTERM or SIGINT uvicorn stops accepting connections and then waits, without a time limit by
default, for every response in progress to finish; it sends an open stream no `http.disconnect`.
A stream that only ended on a disconnect would hold the shutdown until its client left. So, for as
long as the application runs, the server's own handlers of those signals are wrapped: the signal
still goes to the server, and `StopNotice.stopping` turns true for the streams to end on.
"""

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopNotice:
    """Whether the process was asked to stop; read by the streams between their polls."""

    def __init__(self) -> None:
        self.stopping = False

    def _wrapped(self, previous: Any) -> Callable[[int, FrameType | None], None]:
        def handler(signum: int, frame: FrameType | None) -> None:
            self.stopping = True  # a plain store: all a signal handler should do besides passing it on
            if callable(previous):
                previous(signum, frame)
            elif previous != signal.SIG_IGN:  # the default action: the process ends, streams or not
                signal.signal(signum, signal.SIG_DFL)
                signal.raise_signal(signum)

        return handler

    @contextmanager
    def watching_signals(self) -> Iterator[None]:
        """Notes the stop signals while inside; outside the main thread (a test client running
        the application in a thread of its own) signals cannot be handled, and nothing is done."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
        for number, handler in previous.items():
            signal.signal(number, self._wrapped(handler))
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
