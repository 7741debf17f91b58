"""Training-step and DataLoader throughput, pellucid vs PyTorch (CPU), same thread count.

MLP 784-128-10 and ConvNet conv(1->32,3)-pool-conv(32->64,3)-pool-fc(1600->128)-fc(10) steps
(batch 64, Adam, synthetic MNIST-shaped data), one shuffled DataLoader epoch over 60,000 samples,
and the peak memory of a training run (each framework in its own process).

Run: .venv/bin/python bench/bench_train.py [--threads N]
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def _set_threads(n):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


def build(lib, kind):
    nn = lib.nn
    lib.manual_seed(0)
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))


def step_fn(lib, kind, batch=64):
    import numpy as np
    model = build(lib, kind)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, batch))
    F = lib.nn.functional

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def loader_epoch_fn(lib, n=60000):
    import numpy as np
    rng = np.random.default_rng(0)
    ds = lib.utils.data.TensorDataset(lib.tensor(rng.standard_normal((n, 1, 28, 28)).astype(np.float32)),
                                      lib.tensor(rng.integers(0, 10, n)))

    def epoch():
        for _ in lib.utils.data.DataLoader(ds, batch_size=64, shuffle=True):
            pass
    return epoch


def child_peak(framework, kind, steps, threads):
    """Run in a fresh process: peak RSS growth (MiB) over `steps` training steps."""
    _set_threads(threads)
    lib = __import__(framework)
    if framework == "torch":
        lib.set_num_threads(threads)
    else:
        import pellucid.nn  # noqa: F401
        import pellucid.optim  # noqa: F401
    step = step_fn(lib, kind)
    step()

    def status(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        return 0
    # reset the peak-RSS mark to the current RSS (the kernel keeps it across exec otherwise)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    base = status("VmRSS")
    for _ in range(steps):
        step()
    peak = status("VmHWM")
    print(json.dumps({"peak_mib": max(peak - base, 0) / 2**20, "base_mib": base / 2**20,
                      "peak_total_mib": peak / 2**20}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--child", nargs=3)
    args = ap.parse_args()
    if args.child:
        child_peak(args.child[0], args.child[1], int(args.child[2]), args.threads)
        return
    _set_threads(args.threads)
    sys.path.insert(0, HERE)
    import torch
    import pellucid
    import pellucid.nn  # noqa: F401
    import pellucid.optim  # noqa: F401
    import pellucid.utils.data  # noqa: F401
    from _timing import compare, machine, table
    torch.set_num_threads(args.threads)
    cases = [("MLP step (batch 64, Adam)", step_fn(pellucid, "mlp"), step_fn(torch, "mlp")),
             ("ConvNet step (batch 64, Adam)", step_fn(pellucid, "conv"), step_fn(torch, "conv"))]
    rows = compare(cases, rounds=3, target=0.5)
    epoch_rows = compare([("DataLoader epoch, 60,000 samples, shuffled, batch 64",
                           loader_epoch_fn(pellucid), loader_epoch_fn(torch))], rounds=3, repeat=1, number=1)
    print(f"# training benchmark, {datetime.date.today()}, {machine()}, {args.threads} thread(s), "
          f"torch {torch.__version__}\n")
    print(table(rows, unit="ms", scale=1e3))
    print()
    print(table(epoch_rows, unit="s", scale=1))
    print("\n| peak memory, 50 training steps | pellucid process peak (MiB) | PyTorch process peak (MiB) | ratio "
          "| pellucid growth during steps | PyTorch growth during steps |\n|---|---:|---:|---:|---:|---:|")
    for kind in ("mlp", "conv"):
        res = {}
        for fw in ("pellucid", "torch"):
            out = subprocess.run([sys.executable, __file__, "--threads", str(args.threads), "--child", fw, kind, "50"],
                                 capture_output=True, text=True, check=True)
            res[fw] = json.loads(out.stdout.strip().splitlines()[-1])
        p, t = res["pellucid"], res["torch"]
        print(f"| {kind} | {p['peak_total_mib']:.1f} | {t['peak_total_mib']:.1f} | "
              f"{p['peak_total_mib'] / t['peak_total_mib']:.2f} | {p['peak_mib']:.1f} | {t['peak_mib']:.1f} |")


if __name__ == "__main__":
    main()
