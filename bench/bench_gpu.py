"""GPU training throughput, pellucid (CuPy) vs PyTorch (CUDA), float32 and mixed precision.

Cases: an MLP 784-512-512-10 and a ConvNet conv(1->32,3)-pool-conv(32->64,3)-pool-fc(1600->128)-fc(10)
(Adam, MNIST-shaped synthetic data) at batch 64 and 512, and a ResNet-18 (CIFAR layout, 11M
parameters; SGD with momentum) on 32x32 images at batch 128. Each case runs in float32 and with
autocast(float16) + GradScaler. A step is forward, cross entropy, backward and the optimizer step;
steps are timed between two CUDA events (pellucid.cuda.Event / torch.cuda.Event) after warm-up
(CuPy compiles its kernels during the first steps). Reported: images/s of each framework, the
pellucid/PyTorch throughput ratio, the mixed-precision speed-up and the peak allocated memory.

Run: .venv/bin/python bench/bench_gpu.py [--steps N] [--cases mlp64,resnet128] [--json out.json]
     .venv/bin/python bench/bench_gpu.py --dispatch-overhead   (CPU: cost of autocast's check in dispatch)
Without CuPy and an NVIDIA GPU it stops with a message saying so. PyTorch without CUDA: pellucid
runs alone and the PyTorch columns read n/a.
"""
import argparse
import datetime
import json
import os
import sys
import timeit

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

SHAPES = {"mlp": (1, 28, 28), "convnet": (1, 28, 28), "resnet18": (3, 32, 32)}
CASES = {"mlp64": ("mlp", 64), "mlp512": ("mlp", 512), "convnet64": ("convnet", 64),
         "convnet512": ("convnet", 512), "resnet128": ("resnet18", 128)}


# ---- models (the same code builds the pellucid and the PyTorch version) ----------------------------

def build_mlp(lib, width=512):
    nn = lib.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, 10))


def build_convnet(lib, width=32):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, width, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(width, 2 * width, 3),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * width * 25, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def build_resnet18(lib, width=64, num_classes=10):
    """ResNet-18 for 32x32 inputs: 3x3 stem, four stages of two basic blocks, global pool, fc."""
    nn = lib.nn

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + self.shortcut(x))

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
            blocks, cin = [], width
            for i, stride in enumerate((1, 2, 2, 2)):
                cout = width * 2 ** i
                blocks += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
                cin = cout
            self.layers = nn.Sequential(*blocks)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(cin, num_classes)

        def forward(self, x):
            return self.fc(self.pool(self.layers(self.stem(x))).flatten(1))

    return ResNet18()


BUILDERS = {"mlp": build_mlp, "convnet": build_convnet, "resnet18": build_resnet18}


def make_step(lib, kind, batch, device, amp, width=None, image=None):
    """A closure running one training step of `kind` on `device`; autocast + GradScaler when amp."""
    lib.manual_seed(0)
    model = BUILDERS[kind](lib) if width is None else BUILDERS[kind](lib, width)
    model = model.to(device)
    if kind == "resnet18":
        opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    else:
        opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    shape = SHAPES[kind] if image is None else (SHAPES[kind][0], image, image)
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((batch,) + shape).astype(np.float32)).to(device)
    y = lib.tensor(rng.integers(0, 10, batch)).to(device)
    dev_type = str(device).split(":")[0]
    scaler = lib.amp.GradScaler(dev_type, enabled=amp)
    F = lib.nn.functional

    def step():
        opt.zero_grad(set_to_none=True)
        with lib.autocast(dev_type, dtype=lib.float16, enabled=amp):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss
    return step


# ---- timing ------------------------------------------------------------------------------------

def seconds_per_step(lib, step, steps, warmup):
    for _ in range(warmup):
        step()
    lib.cuda.synchronize()
    start, end = lib.cuda.Event(enable_timing=True), lib.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(steps):
        step()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1000.0 / steps


def run_case(lib, kind, batch, amp, steps, warmup):
    lib.cuda.empty_cache()
    lib.cuda.reset_peak_memory_stats()
    step = make_step(lib, kind, batch, "cuda", amp)
    sec = seconds_per_step(lib, step, steps, warmup)
    return {"images_per_s": batch / sec, "ms_per_step": sec * 1e3,
            "peak_mib": lib.cuda.max_memory_allocated() / 2 ** 20}


def gpu_status():
    """(pellucid ready, torch ready, why not) without touching CUDA more than needed."""
    import pellucid
    from pellucid import _backend
    try:
        _backend.cupy()
        p_ok, why = True, ""
    except RuntimeError as e:
        p_ok, why = False, str(e)
    try:
        import torch
        t_ok = torch.cuda.is_available()
    except ImportError:
        t_ok = False
    return p_ok and pellucid.cuda.device_count() > 0, t_ok, why


def _fmt(v, spec=".0f"):
    return "n/a" if v is None else format(v, spec)


def benchmark(case_names, steps, warmup):
    import pellucid
    p_ok, t_ok, why = gpu_status()
    if not p_ok:
        raise SystemExit("bench_gpu.py needs a CUDA GPU and CuPy for pellucid's GPU backend; none is "
                         f"usable here.\n{why}")
    torch = None
    if t_ok:
        import torch
    rows = []
    for name in case_names:
        kind, batch = CASES[name]
        for amp in (False, True):
            p = run_case(pellucid, kind, batch, amp, steps, warmup)
            t = run_case(torch, kind, batch, amp, steps, warmup) if torch is not None else None
            rows.append({"case": name, "model": kind, "batch": batch, "amp": amp, "pellucid": p, "torch": t})
    return rows, pellucid.cuda.get_device_name(), (torch.__version__ if torch is not None else None)


def report(rows, device_name, torch_version):
    print(f"# GPU training benchmark, {datetime.date.today()}, {device_name}, "
          f"PyTorch {torch_version or 'without CUDA (n/a)'}\n")
    print("| case | precision | pellucid (img/s) | PyTorch (img/s) | pellucid / PyTorch | pellucid peak (MiB) "
          "| PyTorch peak (MiB) |\n|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        p, t = r["pellucid"], r["torch"]
        ratio = p["images_per_s"] / t["images_per_s"] if t else None
        print(f"| {r['model']} batch {r['batch']} | {'autocast fp16' if r['amp'] else 'float32'} | "
              f"{p['images_per_s']:.0f} | {_fmt(t and t['images_per_s'])} | {_fmt(ratio, '.2f')} | "
              f"{p['peak_mib']:.0f} | {_fmt(t and t['peak_mib'])} |")
    print("\n| case | pellucid speed-up from autocast | PyTorch speed-up from autocast |\n|---|---:|---:|")
    by_case = {}
    for r in rows:
        by_case.setdefault(r["case"], {})[r["amp"]] = r
    for name, pair in by_case.items():
        if False in pair and True in pair:
            ps = pair[True]["pellucid"]["images_per_s"] / pair[False]["pellucid"]["images_per_s"]
            ts = (pair[True]["torch"]["images_per_s"] / pair[False]["torch"]["images_per_s"]
                  if pair[False]["torch"] else None)
            print(f"| {name} | {ps:.2f} | {_fmt(ts, '.2f')} |")


# ---- CPU: what autocast's check costs dispatch when autocast is off -------------------------------

def dispatch_overhead(rounds=40, number=3000):
    """Per-call time of dispatch as it is and of the same function without the autocast check
    (compiled from its source in the same module), interleaved; the minimum of each. Returns
    {case: (with_check_ns, without_ns)}."""
    import inspect
    import pellucid
    from pellucid import _dispatch
    from pellucid.ops._arith import Add, Mul
    from pellucid.ops._pointwise import Relu
    src = inspect.getsource(_dispatch.dispatch)
    lines = src.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip() == "if autocast_active:")
    end = start + 1
    while lines[end].startswith(" " * 8):
        end += 1
    stripped = "\n".join(lines[:start] + lines[end:]).replace("def dispatch(", "def _dispatch_without_check(")
    ns = dict(_dispatch.__dict__)
    exec(compile(stripped, "dispatch_without_check", "exec"), ns)
    without = ns["_dispatch_without_check"]
    a, b = pellucid.randn(8, 8), pellucid.randn(8, 8)
    g = pellucid.randn(8, 8, requires_grad=True)
    cases = {"add (no grad)": (Add, (a, b)), "mul (builds a graph)": (Mul, (g, b)), "relu": (Relu, (a,))}
    out = {}
    for name, (op, args) in cases.items():
        best = [float("inf"), float("inf")]
        for _ in range(rounds):
            for k, fn in enumerate((_dispatch.dispatch, without)):
                t = timeit.timeit(lambda: fn(op, args), number=number) / number * 1e9
                best[k] = min(best[k], t)
        out[name] = tuple(best)
    return out


# ---- CPU smoke run (the test suite calls this: one tiny step of every model, both frameworks) ------

def smoke():
    import torch
    import pellucid
    import pellucid.nn  # noqa: F401
    import pellucid.optim  # noqa: F401
    losses = {}
    for kind, width, image in (("mlp", 16, None), ("convnet", 4, None), ("resnet18", 4, 16)):
        for lib in (pellucid, torch):
            for amp in (False, True):
                loss = make_step(lib, kind, 2, "cpu", amp, width=width, image=image)()
                losses[(kind, lib.__name__, amp)] = float(loss.detach())
    return losses


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--json")
    ap.add_argument("--dispatch-overhead", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    if args.dispatch_overhead:
        print("| dispatch call | with the autocast check (ns) | without it (ns) | ratio |\n|---|---:|---:|---:|")
        for name, (w, wo) in dispatch_overhead().items():
            print(f"| {name} | {w:.0f} | {wo:.0f} | {w / wo:.3f} |")
        return
    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; choose from {sorted(CASES)}")
    rows, device_name, torch_version = benchmark(names, args.steps, args.warmup)
    report(rows, device_name, torch_version)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": device_name, "torch": torch_version, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
