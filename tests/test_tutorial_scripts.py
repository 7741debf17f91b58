"""The tutorials that also come as plain scripts (tutorials/scripts/) run from the command line:
tutorial 4 trains its MNIST classifier, prints the test accuracy and writes its loss plot as a
Bokeh HTML file holding every logged point."""
import base64
import gzip
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

SCRIPTS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "tutorials", "scripts"))
MNIST_SCRIPT = os.path.join(SCRIPTS, "04_mnist_mlp.py")
BATCH_SIZE = 64          # the script's training batch size
VAL_EVERY = 25           # the script evaluates on the validation set every 25 steps and at each epoch's end


def _run(args, cwd, timeout=300):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, MNIST_SCRIPT, *args], cwd=str(cwd), env=env, capture_output=True,
                          text=True, timeout=timeout)


def _bokeh_array(entry):
    """A Bokeh-serialised NumPy array (base64 bytes, gzip-compressed when large) as an array."""
    if isinstance(entry, list):
        return np.asarray(entry, dtype=float)
    assert entry["type"] == "ndarray", entry
    raw = entry["array"]
    if isinstance(raw, list):
        return np.asarray(raw, dtype=entry["dtype"])
    data = base64.b64decode(raw["data"])
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    dtype = np.dtype(entry["dtype"]).newbyteorder("<" if entry.get("order", "little") == "little" else ">")
    return np.frombuffer(data, dtype=dtype).reshape(entry["shape"])


def _series_in_html(html):
    """{series name: (x, y)} from the ColumnDataSources named "pellucid-<series>" in a Bokeh
    standalone HTML document."""
    blocks = re.findall(r'<script type="application/json" id="[^"]+">\s*(.*?)\s*</script>', html, re.S)
    assert len(blocks) == 1, "expected one embedded Bokeh document"
    docs = json.loads(blocks[0])
    (doc,) = docs.values()
    found = {}

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and node.get("name") == "ColumnDataSource":
                name = node["attributes"].get("name", "")
                if name.startswith("pellucid-"):
                    columns = dict(node["attributes"]["data"]["entries"])
                    found[name[len("pellucid-"):]] = (_bokeh_array(columns["x"]), _bokeh_array(columns["y"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(doc["roots"])
    return found


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_mnist_script_trains_and_writes_its_loss_plot(tmp_path):
    out = tmp_path / "loss.html"
    result = _run(["--epochs", "1", "--out", str(out), "--data", str(tmp_path / "data")], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    stdout = result.stdout
    assert "Traceback" not in result.stderr and "WARNING" not in result.stderr, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["data", "loss.html"]       # nothing else written where it ran

    n_train = int(re.search(r"^([\d,]+) training, [\d,]+ validation, [\d,]+ test images$", stdout, re.M)
                  .group(1).replace(",", ""))
    steps = math.ceil(n_train / BATCH_SIZE)
    epoch = re.search(r"^epoch 1: last training loss ([\d.]+), validation loss ([\d.]+), "
                      r"validation accuracy ([\d.]+)$", stdout, re.M)
    assert epoch, stdout
    assert re.search(rf"^MNIST MLP: plot written to {re.escape(str(out))}$", stdout, re.M), stdout
    test = re.search(r"^test loss ([\d.]+), test accuracy ([\d.]+)$", stdout, re.M)
    assert test, stdout
    assert float(test.group(2)) > 0.8
    if "sample shipped with pellucid" in stdout:
        assert stdout.startswith("note: MNIST could not be downloaded") and n_train == 7000

    html = out.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html>") and "Bokeh.embed" in html
    series = _series_in_html(html)
    assert set(series) == {"train_loss", "val_loss", "accuracy"}

    x, train_loss = series["train_loss"]
    np.testing.assert_array_equal(x, np.arange(steps))                 # one point per training step
    assert np.isfinite(train_loss).all()
    assert abs(train_loss[0] - math.log(10)) < 0.3                      # the first step: about a uniform guess
    assert train_loss[-10:].mean() < 0.5 * train_loss[:10].mean()       # and it learned

    evaluated = [s for s in range(steps) if (s + 1) % VAL_EVERY == 0] + [steps - 1]
    for name in ("val_loss", "accuracy"):
        x, y = series[name]
        np.testing.assert_array_equal(x, evaluated)
        assert np.isfinite(y).all()
    assert ((series["accuracy"][1] > 0) & (series["accuracy"][1] <= 1)).all()
    # the last points are the end-of-epoch evaluation the script printed
    assert f"{series['val_loss'][1][-1]:.3f}" == epoch.group(2)
    assert f"{series['accuracy'][1][-1]:.3f}" == epoch.group(3)


def test_mnist_script_help(tmp_path):
    result = _run(["--help"], cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: 04_mnist_mlp.py")
    for option in ("--epochs", "--out", "--data", "--seed"):
        assert option in result.stdout
    assert "Tutorial 4 as a script" in result.stdout
    assert os.listdir(tmp_path) == []


def test_mnist_script_refuses_a_bad_epoch_count(tmp_path):
    result = _run(["--epochs", "0"], cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and "--epochs must be at least 1" in result.stderr
    assert os.listdir(tmp_path) == []
