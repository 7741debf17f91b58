"""Downloading and checking dataset files."""
import hashlib
import os
import tempfile
import urllib.parse
import urllib.request

__all__ = ["calculate_md5", "check_md5", "check_integrity", "download_url"]

USER_AGENT = "pellucid"


def calculate_md5(fpath, chunk_size=1024 * 1024):
    md5 = hashlib.md5(usedforsecurity=False)
    with open(fpath, "rb") as f:
        while chunk := f.read(chunk_size):
            md5.update(chunk)
    return md5.hexdigest()


def check_md5(fpath, md5, **kwargs):
    return md5 == calculate_md5(fpath, **kwargs)


def check_integrity(fpath, md5=None):
    if not os.path.isfile(fpath):
        return False
    if md5 is None:
        return True
    return check_md5(fpath, md5)


def _opener(url):
    host = urllib.parse.urlsplit(url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1"):
        # Never send loopback requests through a configured proxy.
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def download_url(url, root, filename=None, md5=None, timeout=30):
    """Download `url` into `root/filename`. The data goes to a temporary file in the same folder,
    is checked against `md5` (when given), and only then renamed into place, so an interrupted or
    corrupted download never leaves a file that looks complete. Raises on any failure."""
    root = os.path.expanduser(root)
    filename = filename or os.path.basename(urllib.parse.urlsplit(url).path)
    fpath = os.path.join(root, filename)
    os.makedirs(root, exist_ok=True)
    if check_integrity(fpath, md5):
        return fpath
    fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=root)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with os.fdopen(fd, "wb") as out, _opener(url).open(request, timeout=timeout) as response:
            while chunk := response.read(1024 * 1024):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if md5 is not None and digest.hexdigest() != md5:
            raise RuntimeError(f"{url}: the downloaded file's MD5 is {digest.hexdigest()}, expected {md5}; "
                               "the file was rejected")
        os.chmod(tmp, 0o644)
        os.replace(tmp, fpath)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return fpath
