"""The tutorial notebooks run end to end as a learner runs them (kernel python3 of this
environment, working directory tutorials/), their check cells accept the provided solutions, and
they are stored clean: no outputs, no execution counts, listed in the tutorials' index."""
import glob
import os
import re
import sys
import time

import nbformat
import pytest
from nbclient import NotebookClient

import pellucid

TUTORIALS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "tutorials"))
NOTEBOOKS = sorted(glob.glob(os.path.join(TUTORIALS, "*.ipynb")))
CELL_TIMEOUT_S = 100
NOTEBOOK_LIMIT_S = 120
_PREFIX_MARK = "kernel sys.prefix="


def _name(path):
    return os.path.basename(path)


@pytest.mark.timeout(NOTEBOOK_LIMIT_S + 120)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_notebook_runs_without_errors(path):
    nb = nbformat.read(path, as_version=4)
    # one extra cell, in memory only, to learn which Python the kernel ran on
    nb.cells.append(nbformat.v4.new_code_cell(f"import sys; print({_PREFIX_MARK!r} + sys.prefix)"))
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": TUTORIALS}})
    start = time.perf_counter()
    client.execute()            # raises CellExecutionError, with the traceback, at the first failing cell
    elapsed = time.perf_counter() - start

    problems, prefixes = [], []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                problems.append(f"cell {index}: {out.ename}: {out.evalue}")
            elif out.output_type == "stream" and out.name == "stderr":
                problems.append(f"cell {index} wrote to stderr: {out.text.strip()[:500]}")
            elif out.output_type == "stream":
                problems += [f"cell {index}, a check failed: {line}" for line in out.text.splitlines()
                             if line.startswith("✗")]
                prefixes += [line[len(_PREFIX_MARK):] for line in out.text.splitlines()
                             if line.startswith(_PREFIX_MARK)]
    assert not problems, f"{_name(path)}:\n" + "\n".join(problems)
    assert prefixes == [sys.prefix], f"the kernel ran on {prefixes}, not on this environment ({sys.prefix})"
    assert elapsed < NOTEBOOK_LIMIT_S, f"{_name(path)} took {elapsed:.0f} s (limit {NOTEBOOK_LIMIT_S} s)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [index for index, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"{_name(path)}: cells {dirty} hold outputs or execution counts; clear them before committing"
    assert "widgets" not in nb.metadata, f"{_name(path)} stores widget state; clear it before committing"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


def test_index_links_exactly_the_existing_notebooks():
    assert NOTEBOOKS, "no tutorial notebooks found"
    readme = open(os.path.join(TUTORIALS, "README.md"), encoding="utf-8").read()
    linked = set(re.findall(r"\]\(([^)\s]+\.ipynb)\)", readme))
    assert linked == {_name(p) for p in NOTEBOOKS}


@pytest.fixture
def check(monkeypatch):
    monkeypatch.syspath_prepend(TUTORIALS)
    from _check import check
    return check


def test_check_accepts_a_right_answer(check, capsys):
    check("sum", pellucid.tensor([1.0, 2.0]) * 2, pellucid.tensor([2.0, 4.0]))
    check("nested", {"a": [1, (2.0, "x")]}, {"a": [1, (2.0 + 1e-9, "x")]})
    assert capsys.readouterr().out.splitlines() == ["✓ sum: correct", "✓ nested: correct"]


@pytest.mark.parametrize("got, expected, says", [
    (pellucid.ones(2), pellucid.ones(3), "shape is [2], expected [3]"),
    (pellucid.ones(2, dtype=pellucid.float64), pellucid.ones(2), "dtype is pellucid.float64, expected pellucid.float32"),
    (pellucid.tensor([1.0, 2.0]), pellucid.tensor([1.0, 5.0]), "1 of 2 values differ; first at index [1]: got 2.0, expected 5.0"),
    (pellucid.tensor(3.0), 3.0, "expected float 3.0, got a tensor (try .item())"),
    ({"a": 1}, {"a": 1, "b": 2}, "missing keys ['b']"),
    ([1, 2], [1, 2, 3], "2 items, expected 3"),
], ids=["shape", "dtype", "value", "scalar", "dict", "length"])
def test_check_explains_a_wrong_answer(check, capsys, got, expected, says):
    check("exercise", got, expected, hint="look again")
    assert capsys.readouterr().out.splitlines() == [f"✗ exercise: {says}", "  hint: look again"]
