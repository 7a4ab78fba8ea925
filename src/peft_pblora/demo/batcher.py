"""Batching of concurrent requests: one worker thread decodes the rows of every job waiting, up to a batch size.

Each page event submits a job (its guided and base rows, or a prompt at every grid alpha) and reads its rows' text
as it streams. The worker takes the jobs that arrived within `wait_s` of the first, while their rows fit in
`max_batch_size` (a larger job runs alone; jobs that already fill a batch are not kept waiting), and decodes them in
one `generate` call: different users' alphas in one batch. One worker also keeps the PARM's preference, set on its
layers for a call, from being changed mid-call. Jobs the worker will not decode (it was closed, or it stopped on an
error) are told so at once rather than left to time out.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence

from .session import DemoSession, Row

JOB_TIMEOUT_S = 600.0

logger = logging.getLogger("peft_pblora.demo")


class Job:
    """The rows one request submitted; `stream()` yields their texts as they grow, `result()` waits for the end."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self.rows = list(rows)
        self.texts = [""] * len(self.rows)
        self.batch_rows: int | None = None  # rows in the batch this job was decoded in
        self._events: queue.Queue = queue.Queue()

    def stream(self, timeout_s: float = JOB_TIMEOUT_S) -> Iterator[list[str]]:
        """The rows' texts after each change, until every row is done; raises the worker's error, if any, and
        TimeoutError when nothing comes for `timeout_s` seconds."""
        pending = set(range(len(self.rows)))
        while pending:
            try:
                kind, row, value = self._events.get(timeout=timeout_s)
            except queue.Empty:
                raise TimeoutError(f"no answer from the demo's generation worker in {timeout_s:g} s") from None
            if kind == "error":
                raise value
            if kind == "text":
                self.texts[row] = value
                yield list(self.texts)
            elif kind == "done":
                pending.discard(row)
                if value is not None:
                    self.texts[row] = value
        yield list(self.texts)

    def result(self, timeout_s: float = JOB_TIMEOUT_S) -> list[str]:
        """The rows' final texts."""
        final = list(self.texts)
        for texts in self.stream(timeout_s):
            final = texts
        return final


class GenerationBatcher:
    """A worker thread that decodes waiting jobs together; `batch_sizes` records the rows of each batch it ran."""

    def __init__(self, session: DemoSession, max_batch_size: int = 8, wait_s: float = 0.05, start: bool = True):
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        self.session = session
        self.max_batch_size = max_batch_size
        self.wait_s = wait_s
        self.batch_sizes: list[int] = []
        self._waiting: deque[Job] = deque()
        self._condition = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        if start:
            self.start()

    def submit(self, rows: Sequence[Row]) -> Job:
        """Queue a job's rows for the next batch they fit in."""
        job = Job(rows)
        with self._condition:
            if self._closed:
                raise RuntimeError("the demo's generation worker is closed")
            self._waiting.append(job)
            self._condition.notify()
        return job

    def start(self) -> None:
        """Start the worker (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="demo-generation", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the worker after the batch it is decoding; the jobs still waiting get an error."""
        with self._condition:
            self._closed = True
            self._condition.notify()
        if self._thread is not None:
            self._thread.join(timeout=JOB_TIMEOUT_S)
        self._refuse_waiting([], RuntimeError("the demo's generation worker was closed before this request ran"))

    def _refuse_waiting(self, batch: list[Job], error: BaseException) -> None:
        """Closes the batcher and posts `error` to `batch` and every waiting job: none of them will be decoded."""
        with self._condition:
            self._closed = True
            jobs = batch + list(self._waiting)
            self._waiting.clear()
        for job in jobs:
            job._events.put(("error", None, error))

    def _waiting_rows(self) -> int:
        return sum(len(job.rows) for job in self._waiting)

    def _next_batch(self) -> list[Job]:
        with self._condition:
            while not self._waiting and not self._closed:
                self._condition.wait()
            if self._closed:
                return []
            deadline = time.monotonic() + self.wait_s
            while time.monotonic() < deadline and self._waiting_rows() < self.max_batch_size and not self._closed:
                # let other users' requests arrive, while they would still fit
                self._condition.wait(timeout=max(deadline - time.monotonic(), 0.0))
            batch = [self._waiting.popleft()]
            rows = len(batch[0].rows)
            while self._waiting and rows + len(self._waiting[0].rows) <= self.max_batch_size:
                job = self._waiting.popleft()
                batch.append(job)
                rows += len(job.rows)
            return batch

    def _work(self) -> None:
        """Decodes batches until closed; if it dies (an error `_decode` does not catch), no job is left waiting."""
        batch: list[Job] = []
        try:
            while True:
                batch = self._next_batch()
                if not batch:
                    return
                self._decode(batch)
                batch = []
        except BaseException as error:  # noqa: BLE001 - the thread ends here; its jobs and the page are told
            logger.exception("the demo's generation worker stopped")
            self._refuse_waiting(batch, RuntimeError(f"the demo's generation worker stopped: {error!r}"))

    def _decode(self, batch: list[Job]) -> None:
        owners = [(job, index) for job in batch for index in range(len(job.rows))]
        for job in batch:
            job.batch_rows = len(owners)

        def on_text(row: int, text: str) -> None:
            job, index = owners[row]
            job._events.put(("text", index, text))

        try:
            answers = self.session.generate([job.rows[index] for job, index in owners], on_text=on_text)
        except Exception as error:  # the page shows it; the worker goes on with the next batch
            for job in batch:
                job._events.put(("error", None, error))
            return
        self.batch_sizes.append(len(owners))
        for (job, index), answer in zip(owners, answers, strict=True):
            job._events.put(("done", index, answer))
