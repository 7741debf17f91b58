"""One rank misbehaves after a first collective: `raise` (an exception), `hang` (stops calling
collectives) or `exit` (sys.exit(3)). The job must end with an error, not hang."""
import sys
import time
from datetime import timedelta

import pellucid as torch
import pellucid.distributed as dist

mode, timeout = sys.argv[1], float(sys.argv[2])
dist.init_process_group("mpi", timeout=timedelta(seconds=timeout))
t = torch.ones(4)
dist.all_reduce(t)
if dist.get_rank() == 1:
    if mode == "raise":
        raise ValueError("rank 1 failed on purpose")
    if mode == "exit":
        sys.exit(3)
    time.sleep(3600)
dist.all_reduce(t)
print("every rank finished", flush=True)
