"""Kernel side of the JupyterLab side panel: after every cell, the graph and gradient health of the
latest recording (the most recently stopped pellucid.debug Recorder) go to the front end over the
comm target "pellucid.panel", without the user displaying anything.

`enable()` runs on `import pellucid_widgets` inside a kernel; it is idempotent, and after a kernel
restart the next import enables it again. The front end may also open the comm itself (then it
gets the latest recording at once) and send {"type": "request"} to ask for it again."""
import logging

from ._common import ipython_shell, jsonable

log = logging.getLogger(__name__)

TARGET = "pellucid.panel"
PROTOCOL_VERSION = 1


class _State:
    shell = None
    comms = []
    sent = None          # what the front end already has: (recorder serial, iterations, steps)
    latest = None        # the last recorder stopped while enabled, kept even if the user dropped it


_state = _State()


def _create_comm(**kwargs):
    import comm
    return comm.create_comm(**kwargs)


def latest_recorder():
    """The most recently stopped Recorder: `with pellucid.debug.record(model):` needs no name to
    reach the panel (the panel keeps the last one alive while it is enabled)."""
    from pellucid.debug.recorder import last_recorder
    return _state.latest or last_recorder()


def _remember(rec):
    _state.latest = rec


def enable(shell=None):
    """Start sending recordings to the side panel after every cell. Returns False outside IPython."""
    shell = shell if shell is not None else ipython_shell()
    if shell is None:
        return False
    if _state.shell is shell:
        return True
    if _state.shell is not None:
        disable()
    shell.events.register("post_run_cell", _post_run_cell)
    _state.shell = shell
    from pellucid.debug import recorder
    if _remember not in recorder.stop_listeners:
        recorder.stop_listeners.append(_remember)
    _register_target()
    _open()
    return True


def disable():
    """Stop sending and close the comm."""
    if _state.shell is not None:
        try:
            _state.shell.events.unregister("post_run_cell", _post_run_cell)
        except ValueError:
            pass
    _state.shell = None
    _state.latest = None
    from pellucid.debug import recorder
    if _remember in recorder.stop_listeners:
        recorder.stop_listeners.remove(_remember)
    for c in list(_state.comms):
        try:
            c.close()
        except Exception:
            pass
    _state.comms = []
    _state.sent = None


def enabled():
    return _state.shell is not None


def _register_target():
    try:
        import comm
        comm.get_comm_manager().register_target(TARGET, _on_frontend_open)
    except Exception:  # no comm manager outside a kernel
        log.debug("pellucid panel: no comm manager to register %s with", TARGET)


def _adopt(c):
    c.on_msg(_on_msg)
    c.on_close(lambda msg, c=c: _forget(c))
    _state.comms.append(c)
    _state.sent = None                       # a new listener has nothing yet


def _open(send=True):
    c = _create_comm(target_name=TARGET, data={"type": "hello", "version": PROTOCOL_VERSION})
    _adopt(c)
    if send:
        send_latest()
    return c


def _forget(c):
    if c in _state.comms:
        _state.comms.remove(c)


def _on_frontend_open(c, open_msg):
    _adopt(c)
    send_latest(force=True)


def _on_msg(msg):
    data = (msg.get("content") or {}).get("data") or {}
    if isinstance(data, dict) and data.get("type") == "request":
        send_latest(force=True)


def _post_run_cell(*_args):
    try:
        send_latest(reopen=True)
    except Exception:  # the panel must never break the user's cells
        log.exception("pellucid panel: could not send the latest recording")


def messages_for(rec):
    """The messages describing recording `rec`: its graph and, once it has gradients, their health."""
    from .gradients import gradient_payload
    with rec._lock:
        out = [{"type": "graph", "graph": jsonable(rec.graph())}]
        if rec.param_grad_norms or any(t.grad_summary for t in rec.latest.tensors.values()):
            out.append({"type": "gradients", **gradient_payload(rec)})
    return out


def send_latest(force=False, reopen=False):
    """Send the latest recording if the front end does not have it yet (or `force`). `reopen`:
    open a new comm if the front end closed ours (e.g. before its panel was ready). Returns
    whether anything was sent."""
    rec = latest_recorder()
    if rec is None or rec.latest is None or not rec.latest.steps:
        return False
    signature = (rec._serial, rec.iteration_count, rec.latest.number, len(rec.latest.steps))
    if signature == _state.sent and not force:
        return False
    if not _state.comms:
        if not reopen:
            return False
        _open(send=False)
    msgs = messages_for(rec)
    for c in list(_state.comms):
        for m in msgs:
            c.send(m)
    _state.sent = signature
    return True
