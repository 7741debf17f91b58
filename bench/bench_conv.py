"""Convolution, pooling, normalisation and resampling: forward and forward+backward time per
call, pellucid vs PyTorch (CPU, one thread by default), at the MNIST ConvNet's sizes.

Run: .venv/bin/python bench/bench_conv.py [--threads N]
"""
import argparse
import datetime
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def _set_threads(n):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


def _pair(lib, shapes, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    return [lib.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in shapes]


def cases(pellucid, torch):
    """[(name, pellucid_fn, torch_fn)]: each op alone and each op followed by its backward."""
    specs = [
        ("conv2d 1->32 3x3, 64x28x28", [(64, 1, 28, 28), (32, 1, 3, 3), (32,)],
         lambda F, x, w, b: F.conv2d(x, w, b)),
        ("conv2d 32->64 3x3, 64x13x13", [(64, 32, 13, 13), (64, 32, 3, 3), (64,)],
         lambda F, x, w, b: F.conv2d(x, w, b)),
        ("conv2d 64->64 3x3 pad 1, 8x32x32", [(8, 64, 32, 32), (64, 64, 3, 3), (64,)],
         lambda F, x, w, b: F.conv2d(x, w, b, padding=1)),
        ("conv2d depthwise 64 3x3 pad 1, 8x32x32", [(8, 64, 32, 32), (64, 1, 3, 3), (64,)],
         lambda F, x, w, b: F.conv2d(x, w, b, padding=1, groups=64)),
        ("conv_transpose2d 32->16 4x4 s2, 16x16x16", [(16, 32, 16, 16), (32, 16, 4, 4), (16,)],
         lambda F, x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1)),
        ("max_pool2d 2, 64x32x26x26", [(64, 32, 26, 26)], lambda F, x: F.max_pool2d(x, 2)),
        ("max_pool2d 3 s2 p1, 16x64x32x32", [(16, 64, 32, 32)], lambda F, x: F.max_pool2d(x, 3, 2, 1)),
        ("avg_pool2d 2, 64x32x26x26", [(64, 32, 26, 26)], lambda F, x: F.avg_pool2d(x, 2)),
        ("adaptive_avg_pool2d 1, 32x256x7x7", [(32, 256, 7, 7)], lambda F, x: F.adaptive_avg_pool2d(x, 1)),
        ("batch_norm train, 64x32x26x26", [(64, 32, 26, 26), (32,), (32,)],
         lambda F, x, w, b: F.batch_norm(x, None, None, w, b, training=True)),
        ("layer_norm 512, 64x128x512", [(64, 128, 512), (512,), (512,)],
         lambda F, x, w, b: F.layer_norm(x, (512,), w, b)),
        ("group_norm 8, 16x64x32x32", [(16, 64, 32, 32), (64,), (64,)],
         lambda F, x, w, b: F.group_norm(x, 8, w, b)),
        ("interpolate bilinear x2, 16x32x32x32", [(16, 32, 32, 32)],
         lambda F, x: F.interpolate(x, scale_factor=2, mode="bilinear")),
        ("interpolate nearest x2, 16x32x32x32", [(16, 32, 32, 32)],
         lambda F, x: F.interpolate(x, scale_factor=2)),
        ("unfold 3x3, 16x32x32x32", [(16, 32, 32, 32)], lambda F, x: F.unfold(x, 3, padding=1)),
    ]
    out = []
    for name, shapes, fn in specs:
        p_args, t_args = _pair(pellucid, shapes), _pair(torch, shapes)
        pF, tF = pellucid.nn.functional, torch.nn.functional

        def p_fwd(fn=fn, a=p_args):
            with pellucid.no_grad():
                fn(pF, *a)

        def t_fwd(fn=fn, a=t_args):
            with torch.no_grad():
                fn(tF, *a)

        def p_both(fn=fn, a=p_args):
            fn(pF, *a).sum().backward()

        def t_both(fn=fn, a=t_args):
            fn(tF, *a).sum().backward()
        out.append((name, p_fwd, t_fwd))
        out.append((name + " +backward", p_both, t_both))
    return out


def convnet_case(pellucid, torch):
    """The MNIST ConvNet's forward and backward (no optimiser), batch 64."""
    import numpy as np

    def build(lib):
        nn = lib.nn
        lib.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
        x = lib.tensor(np.random.default_rng(0).standard_normal((64, 1, 28, 28)).astype(np.float32))

        def run():
            model(x).sum().backward()
        return run
    return [("ConvNet forward+backward, batch 64", build(pellucid), build(torch))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    _set_threads(args.threads)
    sys.path.insert(0, HERE)
    import torch
    import pellucid
    import pellucid.nn  # noqa: F401
    from _timing import compare, machine, table
    torch.set_num_threads(args.threads)
    rows = compare(cases(pellucid, torch), rounds=3, target=0.1)
    net_rows = compare(convnet_case(pellucid, torch), rounds=3, target=0.5)
    print(f"# conv/pool/norm benchmark, {datetime.date.today()}, {machine()}, {args.threads} thread(s), "
          f"torch {torch.__version__}\n")
    print(table(rows, unit="ms", scale=1e3))
    print()
    print(table(net_rows, unit="ms", scale=1e3))


if __name__ == "__main__":
    main()
