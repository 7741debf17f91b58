"""Launch a data-parallel job on this machine:

    python -m pellucid.distributed.run --nproc 4 train.py ARGS...
    python -m pellucid.distributed.run --nproc 2 -m package.module ARGS...

starts `mpirun` with N copies of this Python running the script. Each copy sees RANK,
WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE in its environment (as under torchrun), and an
uncaught exception on any rank prints that rank's traceback and ends the whole job with a
non-zero exit status.

Open MPI is confined to this machine: shared-memory transport between ranks, loopback for its
runtime. Settings already in the environment (OMPI_MCA_*) win; `--mpi-arg` passes anything else
to mpirun. OMP_NUM_THREADS defaults to the cores per rank."""
import argparse
import os
import runpy
import shutil
import subprocess
import sys
import traceback

__all__ = ["main", "mpirun_command"]

_WORKER_FLAG = "--run-as-rank"


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m pellucid.distributed.run",
        description="Run a training script on N processes of this machine through mpirun.")
    p.add_argument("--nproc", "--nproc-per-node", "--nproc_per_node", dest="nproc", type=int,
                   default=1, help="number of processes (ranks), default 1")
    p.add_argument("--mpirun", default=None, help="the mpirun executable (default: from PATH)")
    p.add_argument("--mpi-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for mpirun (repeatable), e.g. --mpi-arg=--report-bindings")
    p.add_argument("-m", dest="module", action="store_true",
                   help="run the target as a module (like python -m)")
    p.add_argument("target", help="the script (or module with -m)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    return p


def _flavour(mpirun):
    try:
        out = subprocess.run([mpirun, "--version"], capture_output=True, text=True, timeout=30)
        text = out.stdout + out.stderr
    except (OSError, subprocess.TimeoutExpired):
        return "unknown", 0
    if "Open MPI" in text or "OpenRTE" in text:
        import re
        m = re.search(r"\b(\d+)\.\d+", text)
        return "openmpi", int(m.group(1)) if m else 4
    return "other", 0


def mpirun_command(nproc, target_argv, mpirun=None, mpi_args=(), env=None):
    """(command list, environment) that starts `nproc` ranks running `target_argv`."""
    if nproc < 1:
        raise ValueError(f"--nproc must be at least 1, got {nproc}")
    exe = mpirun or shutil.which("mpirun") or shutil.which("mpiexec")
    if exe is None:
        raise FileNotFoundError("mpirun was not found; install an MPI library "
                                "(apt-get install openmpi-bin libopenmpi-dev) and mpi4py")
    env = dict(os.environ if env is None else env)
    flavour, major = _flavour(exe)
    cmd = [exe, "-np", str(nproc)]
    cores = os.cpu_count() or 1
    if flavour == "openmpi":
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        if nproc > cores:
            cmd += ["--oversubscribe", "--bind-to", "none"]
        env.setdefault("OMPI_MCA_pml", "ob1")
        env.setdefault("OMPI_MCA_btl", "self,sm" if major >= 5 else "self,vader")
        env.setdefault("OMPI_MCA_btl_tcp_if_include", "lo")
        env.setdefault("OMPI_MCA_oob_tcp_if_include", "lo")
        # ring all-reduce for the non-blocking calls (gradient buckets): the automatic choice
        # reaches half the blocking call's bandwidth on large buffers
        env.setdefault("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1")
        if nproc > cores:
            # ranks waiting in a collective give their core to the ones still computing
            env.setdefault("OMPI_MCA_mpi_yield_when_idle", "1")
    env.setdefault("OMP_NUM_THREADS", str(max(1, cores // nproc)))
    env.setdefault("PYTHONUNBUFFERED", "1")
    cmd += list(mpi_args)
    cmd += [sys.executable, "-m", "pellucid.distributed.run", _WORKER_FLAG] + list(target_argv)
    return cmd, env


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == [_WORKER_FLAG]:
        return _run_rank(argv[1:])
    ns = _parser().parse_args(argv)
    target = (["-m"] if ns.module else []) + [ns.target] + ns.args
    cmd, env = mpirun_command(ns.nproc, target, ns.mpirun, ns.mpi_arg)
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()


def _run_rank(argv):
    """Inside mpirun: publish the rank in the environment, run the target, and end every rank
    if it fails."""
    from mpi4py import MPI
    world = MPI.COMM_WORLD
    local = world.Split_type(MPI.COMM_TYPE_SHARED)
    rank = world.Get_rank()
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world.Get_size()),
                      LOCAL_RANK=str(local.Get_rank()), LOCAL_WORLD_SIZE=str(local.Get_size()))
    local.Free()
    module = argv[:1] == ["-m"]
    if module:
        argv = argv[1:]
    target, args = argv[0], argv[1:]
    code = 0
    try:
        if module:
            sys.argv = [target] + args
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.argv = [target] + args
            sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
            runpy.run_path(target, run_name="__main__")
    except SystemExit as e:
        if e.code is None or e.code == 0:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            sys.stderr.write(f"{e.code}\n")
            code = 1
        if code:
            sys.stderr.write(f"[rank {rank}] exited with status {code}; ending the job\n")
    except BaseException:
        sys.stderr.write(f"[rank {rank}] failed; ending the job:\n")
        traceback.print_exc()
        code = 1
    if code:
        sys.stdout.flush()
        sys.stderr.flush()
        world.Abort(code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
