"""Anomaly mode: NaN/Inf in forward or backward raises, naming the op and the user's line;
off, it costs nothing but the one flag the dispatch point reads."""
import inspect

import numpy as np
import pytest

import pellucid
from pellucid import _dispatch
from pellucid.autograd import anomaly_mode

THIS_FILE = __file__


def line_of(marker):
    """The line number in this file of the source line containing `marker`."""
    src = inspect.getsource(inspect.getmodule(line_of)).splitlines()
    hits = [i + 1 for i, line in enumerate(src) if marker in line and "line_of(" not in line]
    assert len(hits) == 1, hits
    return hits[0]


@pytest.fixture(autouse=True)
def anomaly_off_after_each_test():
    yield
    assert not pellucid.autograd.is_anomaly_enabled()
    assert _dispatch.hooked is False


def test_nan_in_forward_names_op_and_source_line():
    x = pellucid.tensor([-1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        with pellucid.autograd.detect_anomaly():
            x.log()  # MARK-forward-log
    msg = str(info.value)
    assert "'log'" in msg and "forward" in msg
    assert f"{THIS_FILE}:{line_of('MARK-forward-log')}" in msg
    err = info.value
    assert err.op == "log" and err.phase == "forward" and err.source[1] == line_of("MARK-forward-log")


def test_zero_times_inf_in_forward_raises_as_decorator():
    @pellucid.autograd.detect_anomaly()
    def run():
        z = pellucid.zeros(2)
        return z * float("inf")  # MARK-forward-mul

    with pytest.raises(RuntimeError, match=r"'mul' returned nan or inf") as info:
        with np.errstate(invalid="ignore"):
            run()
    assert f":{line_of('MARK-forward-mul')}" in str(info.value)


def test_bare_decorator():
    @pellucid.autograd.detect_anomaly
    def run():
        assert pellucid.autograd.is_anomaly_enabled()
        return pellucid.tensor([0.0]).log()  # MARK-bare

    with pytest.raises(RuntimeError, match="'log'"):
        with np.errstate(divide="ignore"):
            run()


def test_nan_only_in_backward_names_backward_node_forward_op_and_line():
    x = pellucid.zeros(1, requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        with pellucid.autograd.detect_anomaly():
            y = x.sqrt() * 0  # MARK-backward-sqrt
            assert np.isfinite(y.detach().numpy()).all()
            with np.errstate(all="ignore"):
                y.sum().backward()
    msg = str(info.value)
    assert "SqrtBackward0" in msg
    assert "'sqrt'" in msg
    assert f"{THIS_FILE}:{line_of('MARK-backward-sqrt')}" in msg
    assert info.value.phase == "backward"


def test_without_anomaly_mode_the_same_backward_gives_nan():
    x = pellucid.zeros(1, requires_grad=True)
    with np.errstate(all="ignore"):
        (x.sqrt() * 0).sum().backward()
    assert np.isnan(x.grad.numpy()).all()


def test_inf_in_backward_of_pow():
    x = pellucid.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="PowBackward0") as info:
        with pellucid.autograd.detect_anomaly():
            y = x ** 0.5  # MARK-pow
            with np.errstate(all="ignore"):
                y.sum().backward()
    assert f":{line_of('MARK-pow')}" in str(info.value)


def test_nan_inside_double_backward_blames_the_backward_step():
    x = pellucid.zeros(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="SqrtBackward0") as info:
        with pellucid.autograd.detect_anomaly():
            y = x.sqrt() * 0  # MARK-double
            with np.errstate(all="ignore"):
                pellucid.autograd.grad(y.sum(), x, create_graph=True)
    assert info.value.phase == "backward"
    assert f":{line_of('MARK-double')}" in str(info.value)


def test_check_nan_false_only_records_traces():
    x = pellucid.tensor([-1.0], requires_grad=True)
    with pellucid.autograd.detect_anomaly(check_nan=False):
        with np.errstate(all="ignore"):
            y = x.log()  # MARK-trace
    assert y.grad_fn.anomaly_trace[1] == line_of("MARK-trace")


def test_set_detect_anomaly_function_and_context():
    pellucid.autograd.set_detect_anomaly(True)
    try:
        assert pellucid.autograd.is_anomaly_enabled()
        assert _dispatch.hooked
    finally:
        pellucid.autograd.set_detect_anomaly(False)
    assert not pellucid.autograd.is_anomaly_enabled()
    with pellucid.autograd.detect_anomaly():
        with pellucid.autograd.set_detect_anomaly(False):
            assert not pellucid.autograd.is_anomaly_enabled()
        assert pellucid.autograd.is_anomaly_enabled()


def test_finite_values_pass_through():
    x = pellucid.tensor([1.0, 4.0], requires_grad=True)
    with pellucid.autograd.detect_anomaly():
        y = (x.sqrt() * x.log()).sum()
        y.backward()
    expected = 1 / (2 * np.sqrt([1.0, 4.0])) * np.log([1.0, 4.0]) + np.sqrt([1.0, 4.0]) / [1.0, 4.0]
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)


def test_listener_removed_even_when_it_raised():
    with pytest.raises(RuntimeError):
        with pellucid.autograd.detect_anomaly():
            with np.errstate(all="ignore"):
                pellucid.tensor([-1.0]).log()
    assert _dispatch.listeners() == ()


def test_off_costs_nothing_but_the_flag(monkeypatch):
    # with anomaly mode off no listener runs: source lookups and NaN scans never happen
    def forbidden(*a, **k):
        raise AssertionError("anomaly machinery ran while off")

    monkeypatch.setattr(anomaly_mode, "user_frame", forbidden)
    monkeypatch.setattr(anomaly_mode.tripwire, "first_nonfinite", forbidden)
    assert _dispatch.hooked is False and _dispatch.listeners() == ()
    x = pellucid.tensor([-1.0, 0.0], requires_grad=True)
    with np.errstate(all="ignore"):
        y = x.log() * x
        y.sum().backward()
    assert y.grad_fn.anomaly_trace is None
    assert np.isnan(x.grad.numpy()[0])
