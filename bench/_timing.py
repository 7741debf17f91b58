"""Timing helpers shared by the benchmarks: interleaved runs of pellucid and PyTorch so machine
noise hits both alike, reported as medians and ratios."""
import os
import platform
import statistics
import time


def per_call(fn, number=None, repeat=7, target=0.05):
    """Median seconds per call of `fn` over `repeat` runs of `number` calls."""
    if number is None:
        number = 1
        while True:
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            if time.perf_counter() - t0 > target / 5:
                break
            number *= 4
        number = max(1, int(number * target / max(time.perf_counter() - t0, 1e-9) / 5))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def compare(cases, rounds=3, **kw):
    """cases: [(name, pellucid_fn, torch_fn)]. Returns [(name, p_s, t_s, ratio)], alternating
    the two frameworks within each round."""
    res = {name: ([], []) for name, _, _ in cases}
    for _ in range(rounds):
        for name, pf, tf in cases:
            res[name][0].append(per_call(pf, **kw))
            res[name][1].append(per_call(tf, **kw))
    out = []
    for name, _, _ in cases:
        p = statistics.median(res[name][0])
        t = statistics.median(res[name][1])
        out.append((name, p, t, p / t))
    return out


def machine():
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def table(rows, unit="us", scale=1e6):
    lines = [f"| case | pellucid ({unit}) | PyTorch ({unit}) | ratio |", "|---|---:|---:|---:|"]
    for name, p, t, r in rows:
        lines.append(f"| {name} | {p * scale:.2f} | {t * scale:.2f} | {r:.2f} |")
    return "\n".join(lines)
