"""Key-value stores for the rendezvous of processes started without MPI (`init_method` of the
form `file:///path`, `tcp://host:port` or `env://` with MASTER_ADDR/MASTER_PORT): rank 0
publishes, the others wait until the key appears or the timeout passes.

The TCP store listens only on the address given (127.0.0.1 for a single machine)."""
import os
import socket
import struct
import threading
import time
from urllib.parse import urlparse

from ._common import DistError

__all__ = ["FileStore", "TCPStore", "store_from_init_method"]


class FileStore:
    """Keys are files next to `path`; writes are atomic (write, then rename)."""

    def __init__(self, path, timeout_s):
        self.path = path
        self.timeout_s = timeout_s

    def _file(self, key):
        return f"{self.path}.{key}"

    def set(self, key, value):
        tmp = f"{self._file(key)}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(value)
        os.replace(tmp, self._file(key))

    def get(self, key):
        deadline = time.monotonic() + self.timeout_s
        name = self._file(key)
        while True:
            try:
                with open(name, "rb") as f:
                    return f.read()
            except FileNotFoundError:
                if time.monotonic() > deadline:
                    raise DistError(f"FileStore: key {key!r} did not appear at {name} within "
                                    f"{self.timeout_s:.0f} s (has rank 0 started?)") from None
                time.sleep(0.01)

    def close(self):
        pass


def _recv_exact(sock, n):
    chunks = []
    while n:
        c = sock.recv(n)
        if not c:
            raise ConnectionError("store connection closed")
        chunks.append(c)
        n -= len(c)
    return b"".join(chunks)


class TCPStore:
    """Rank 0 (`is_master`) serves a dict over TCP; every rank is a client.
    Protocol: b'S' | b'G', u32 key length, key, [u64 value length, value] -> [u64 length, value]."""

    def __init__(self, host, port, is_master, timeout_s):
        self.timeout_s = timeout_s
        self._data = {}
        self._cond = threading.Condition()
        self._server = None
        if is_master:
            srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            srv.bind((host, port))
            srv.listen(64)
            self._server = srv
            port = srv.getsockname()[1]
            threading.Thread(target=self._serve, daemon=True, name="pellucid-tcpstore").start()
        self.host, self.port = host, port
        self._sock = self._connect()

    def _connect(self):
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                return socket.create_connection((self.host, self.port), timeout=self.timeout_s)
            except OSError as e:
                if time.monotonic() > deadline:
                    raise DistError(f"TCPStore: could not reach {self.host}:{self.port} within "
                                    f"{self.timeout_s:.0f} s ({e}); is rank 0 running?") from None
                time.sleep(0.05)

    def _serve(self):
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn):
        try:
            while True:
                cmd = conn.recv(1)
                if not cmd:
                    return
                (klen,) = struct.unpack("!I", _recv_exact(conn, 4))
                key = _recv_exact(conn, klen)
                if cmd == b"S":
                    (vlen,) = struct.unpack("!Q", _recv_exact(conn, 8))
                    value = _recv_exact(conn, vlen)
                    with self._cond:
                        self._data[key] = value
                        self._cond.notify_all()
                    conn.sendall(struct.pack("!Q", 0))
                else:
                    with self._cond:
                        self._cond.wait_for(lambda: key in self._data, timeout=self.timeout_s)
                        value = self._data.get(key)
                    if value is None:
                        return            # the client times out and reports
                    conn.sendall(struct.pack("!Q", len(value)) + value)
        except (OSError, ConnectionError):
            return
        finally:
            conn.close()

    def set(self, key, value):
        k = key.encode()
        self._sock.sendall(b"S" + struct.pack("!I", len(k)) + k + struct.pack("!Q", len(value)) + value)
        _recv_exact(self._sock, 8)

    def get(self, key):
        k = key.encode()
        self._sock.sendall(b"G" + struct.pack("!I", len(k)) + k)
        try:
            (n,) = struct.unpack("!Q", _recv_exact(self._sock, 8))
            return _recv_exact(self._sock, n)
        except (OSError, ConnectionError):
            raise DistError(f"TCPStore: key {key!r} was not set within {self.timeout_s:.0f} s") from None

    def close(self):
        self._sock.close()
        if self._server is not None:
            self._server.close()


def store_from_init_method(init_method, rank, timeout_s):
    url = urlparse(init_method)
    if url.scheme == "file":
        return FileStore(url.path, timeout_s)
    if url.scheme == "tcp":
        if not url.hostname or not url.port:
            raise ValueError(f"init_method {init_method!r}: expected tcp://host:port")
        return TCPStore(url.hostname, url.port, rank == 0, timeout_s)
    if url.scheme == "env":
        try:
            host, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
        except KeyError as e:
            raise ValueError(f"init_method 'env://': environment variable {e.args[0]} is not set") from None
        return TCPStore(host, port, rank == 0, timeout_s)
    raise ValueError(f"init_method {init_method!r}: expected env://, tcp://host:port or file:///path")
