"""Helpers for the data tests: small IDX files and a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

IDX_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def closed_port_url() -> str:
    """``http://127.0.0.1:<port>`` where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def idx_bytes(arr: np.ndarray) -> bytes:
    """A uint8 array in IDX format (magic 00 00 08 <ndim>, big-endian dims, data), gzip-compressed."""
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return gzip.compress(header + arr.astype(np.uint8).tobytes(), mtime=0)


def write_small_idx(folder: Path, n_train: int = 12, n_test: int = 5, seed: int = 0) -> dict:
    """Write four small MNIST-shaped IDX files; return ``{file: md5}`` and the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.arange(n_test) % 10,
    }
    folder.mkdir(parents=True, exist_ok=True)
    md5s = {}
    for name, arr in arrays.items():
        data = idx_bytes(arr)
        (folder / name).write_bytes(data)
        md5s[name] = hashlib.md5(data).hexdigest()
    return {"md5": md5s, "arrays": arrays}


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class CutOffHandler(SimpleHTTPRequestHandler):
    """Announces 100,000 bytes, sends 10, then hangs up."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"\x1f\x8b" + b"\x00" * 8)
        self.close_connection = True

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(root: Path, handler=QuietHandler):
    """Serve ``root`` on 127.0.0.1 (a free port) from a thread; yield the base URL; shut down at the end."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
