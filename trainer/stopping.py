"""Stopping a run on request: SIGINT (Ctrl-C) and SIGTERM (cluster preemption) end it cleanly.

    with StopRequest() as stop:            # handlers installed in the main thread, restored on exit
        for step ...:
            ...
            if stop.agreed(dist): save(); break     # every rank stops at the same step

A signal only sets a flag; the training loop finishes the step it is in, saves a resumable state at
that step and returns. Under torchrun the flag is agreed across ranks each step (one all_reduce of
MAX), so a signal seen by any rank stops all of them at the same step, with the same checkpoint.
A second Ctrl-C while the save runs aborts at once (KeyboardInterrupt). DataLoader worker processes
ignore both signals (`quiet_worker`): the main process owns the stop, and the workers are shut down
with it. The CLI exits with 128 + the signal number (130 for SIGINT, 143 for SIGTERM), so shell
chains (`stage1 && stage2`) and job schedulers see an unfinished run.
"""
from __future__ import annotations

import logging
import signal
import threading

import torch
import torch.distributed as tdist

log = logging.getLogger("playmate.trainer")

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Flag set by SIGINT / SIGTERM (or `request`), read once per step by `agreed`."""

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict = {}

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _handle(self, signum, frame) -> None:
        if self.signum == signal.SIGINT and signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt("second Ctrl-C: stopped without finishing the checkpoint")
        if self.signum is None:
            self.signum = signum
            log.warning("%s received: finishing this step, then saving a resumable checkpoint "
                        "(press Ctrl-C again to abort without saving)", signal.Signals(signum).name)

    def request(self, signum: int = signal.SIGTERM) -> None:
        """Programmatic stop (tests, callbacks): as if `signum` had arrived."""
        self.signum = self.signum or signum

    def agreed(self, dist) -> bool:
        """True on every rank when any rank has a stop request (a collective: call it on all ranks)."""
        local = self.signum is not None
        if not dist.enabled:
            return local
        flag = torch.tensor([float(self.signum or 0)], device=dist.device)
        tdist.all_reduce(flag, op=tdist.ReduceOp.MAX)
        if flag.item() and self.signum is None:
            self.signum = int(flag.item())
        return bool(flag.item())

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    @property
    def exit_code(self) -> int:
        """128 + signal number, the shell's code for a process ended by that signal."""
        return 128 + int(self.signum or 0)


def quiet_worker(worker_id: int) -> None:
    """DataLoader worker_init_fn: leave SIGINT / SIGTERM to the main process."""
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
