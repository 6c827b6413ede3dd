"""Stopping a run cleanly when the scheduler or the user asks: SIGTERM (preemption, `kill`, job time
limits) and SIGINT (Ctrl-C) only raise a flag; the training loop finishes its step, writes a snapshot and
returns. A second SIGINT interrupts at once, for a user who does not want to wait for the snapshot."""
import signal
import threading


class StopSignals:
    """Context manager: while active, SIGTERM / SIGINT set `.received` (the signal's name) instead of
    killing the process. Outside the main thread (where Python cannot install handlers) it does nothing."""

    def __init__(self, signals=(signal.SIGTERM, signal.SIGINT)):
        self.signals, self.received, self._previous = signals, None, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
        return False

    def _handle(self, signum, frame):
        name = signal.Signals(signum).name
        if self.received == 'SIGINT' and signum == signal.SIGINT:
            # Second Ctrl-C: stop now, without the snapshot. SystemExit unwinds like KeyboardInterrupt (half-written
            # files are removed by their writers' cleanup) but Python prints no traceback for it.
            print('\nSIGINT received again: stopping now, without a snapshot (the newest one is kept)', flush=True)
            raise SystemExit(128 + signal.SIGINT)
        if self.received is None:
            print(f'\n{name} received: finishing the current step, then writing a snapshot and stopping '
                  f'(Ctrl-C again to stop at once)', flush=True)
        self.received = name
