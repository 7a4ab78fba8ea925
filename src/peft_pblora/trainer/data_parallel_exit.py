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


def free_data_parallel_reducers(modules: Iterable[nn.Module | None]) -> int:
    """Delete the gradient reducer (and the logger built on it) of every `DistributedDataParallel` among `modules`,
    each wrapper once; return how many were freed. The wrappers cannot train afterwards: call it at the very end."""
    freed = 0
    for module in {id(module): module for module in modules if isinstance(module, DistributedDataParallel)}.values():
        for attribute in ("logger", "reducer"):
            if hasattr(module, attribute):
                delattr(module, attribute)
                freed += attribute == "reducer"
    return freed
