"""Free DistributedDataParallel's gradient reducers before the process group goes, so that no rank hangs at exit.

torch 2.13 frees a process group with the GIL released when the last to let go of it is a Python `ProcessGroup`,
but with the GIL held when it is a DDP `Reducer` (whose destructor runs in pybind's dealloc). A gloo worker that frees
the tensors of a finished collective needs the GIL while it holds the group's work lock, so a group freed from a
reducer can deadlock the rank: the main thread waits for the lock, the worker for the GIL. Without its reducer, a DDP
wrapper lets go of the group through its Python `process_group` attribute, on the path that releases the GIL.
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn
from torch.nn.parallel import DistributedDataParallel


def free_data_parallel_reducers(modules: Iterable[nn.Module | None]) -> None:
    """Delete the gradient reducer (and the logger built on it) of every `DistributedDataParallel` among `modules`.
    The wrappers cannot train afterwards: call it at the very end."""
    for module in modules:
        if isinstance(module, DistributedDataParallel):
            for attribute in ("logger", "reducer"):
                if hasattr(module, attribute):  # the same wrapper can come twice: its attributes are gone then
                    delattr(module, attribute)
