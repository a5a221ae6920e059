"""Submissions that arrive together are stored together: one script, one queue message.

A Celery message costs the worker about as much to receive and acknowledge whatever it carries,
so the jobs a process submits within `KENNEL_SUBMIT_WINDOW_MS` of each other (for the same model
and priority) go to the submit step together (`ClientProtocol.submit`): one Redis script admits
and stores them and pushes one message naming them all, so no job is stored without its message.
Each submitter waits for that step and only then answers (202, or its own refusal).

The window opens with the first submission and closes after the window, or at once when it
holds `KENNEL_SUBMIT_MAX_JOBS`. Under load the clients that one batch of results just answered
submit again at almost the same moment, so their jobs share a message; a lone client waits the
window.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from jobs.contract import Priority
from jobs.protocol import Admitted, ClientProtocol, Entry
from jobs.settings import QueueSettings


@dataclass
class _Group:
    entries: list[Entry] = field(default_factory=list)
    stored: asyncio.Future[list[Admitted]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Submitter:
    def __init__(self, steps: ClientProtocol, settings: QueueSettings) -> None:
        self._steps = steps
        self._settings = settings
        self.window_s = settings.submit_window_ms / 1000
        self.max_jobs = settings.submit_max_jobs
        self._open: dict[tuple[str, Priority], _Group] = {}
        self._writing: set[asyncio.Task[None]] = set()

    async def submit(self, entry: Entry) -> Admitted:
        """What the submit step did with this job (stored it with its neighbours in time, or
        refused it); raises what the step raised (Redis unreachable) for every job in it."""
        key = (entry.job.model, entry.job.priority)
        group = self._open.get(key)
        if group is None:
            group = self._open[key] = _Group()
            asyncio.get_running_loop().call_later(self.window_s, self._close, key, group)
        index = len(group.entries)
        group.entries.append(entry)
        if len(group.entries) >= self.max_jobs:
            self._close(key, group)
        # shield: a submitter whose request is cancelled leaves its neighbours' write alone.
        return (await asyncio.shield(group.stored))[index]

    def _close(self, key: tuple[str, Priority], group: _Group) -> None:
        if self._open.get(key) is not group:
            return  # closed already (it filled up before its window ended)
        del self._open[key]
        task = asyncio.create_task(self._store(group))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def _store(self, group: _Group) -> None:
        try:
            admitted = await self._steps.submit(group.entries, self._settings)
        except BaseException as exc:
            group.stored.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            group.stored.set_result(admitted)
