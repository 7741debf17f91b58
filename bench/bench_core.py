"""Per-op overhead on small tensors and a 100-op autograd chain, pellucid vs PyTorch (CPU).

Run: .venv/bin/python bench/bench_core.py
"""
import datetime
import os
import statistics
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import pellucid  # noqa: E402
from _timing import compare, machine, table  # noqa: E402

torch.set_num_threads(1)


def small_op_cases():
    a = np.random.default_rng(0).standard_normal((16, 16)).astype(np.float32)
    cases = []
    for rg in (False, True):
        cases += _cases_for(a, rg)
    return cases


def _cases_for(a, rg):
    # a function per requires_grad setting, so each lambda closes over its own tensors
    px, py = pellucid.tensor(a, requires_grad=rg), pellucid.tensor(a + 1, requires_grad=rg)
    tx, ty = torch.tensor(a, requires_grad=rg), torch.tensor(a + 1, requires_grad=rg)
    tag = " (grad)" if rg else ""
    return [
        ("add" + tag, lambda: px + py, lambda: tx + ty),
        ("mul" + tag, lambda: px * py, lambda: tx * ty),
        ("matmul" + tag, lambda: px @ py, lambda: tx @ ty),
        ("relu" + tag, lambda: px.relu(), lambda: tx.relu()),
        ("sum" + tag, lambda: px.sum(), lambda: tx.sum()),
        ("x[0]" + tag, lambda: px[0], lambda: tx[0]),
        ("reshape" + tag, lambda: px.reshape(256), lambda: tx.reshape(256)),
    ]


def chain(lib, x, n=100):
    h = x
    for i in range(n):
        h = h * 1.0001 if i % 2 else h + 0.5
    h.sum().backward()


def chain_cases():
    a = np.random.default_rng(1).standard_normal((16, 16)).astype(np.float32)
    px = pellucid.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    return [("100-op chain fwd+bwd", lambda: chain(pellucid, px), lambda: chain(torch, tx))]


def main():
    rows = compare(small_op_cases())
    chain_rows = compare(chain_cases(), rounds=3, target=0.2)
    print(f"# pellucid core benchmark, {datetime.date.today()}, {machine()}, torch {torch.__version__}, "
          f"numpy {np.__version__}\n")
    print(table(rows))
    print(f"\nmedian ratio over small ops: {statistics.median(r[3] for r in rows):.2f} (goal <= 1.0)\n")
    print(table(chain_rows))
    name, p, t, r = chain_rows[0]
    print(f"\nper op: pellucid {p / 100 * 1e6:.2f} us, PyTorch {t / 100 * 1e6:.2f} us, ratio {r:.2f} (goal <= 0.5)")


if __name__ == "__main__":
    main()
