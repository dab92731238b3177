"""The weights store: downloads, verification, cache repair, locking, offline mode, CLI.

No test reaches the internet: a real ThreadingHTTPServer on 127.0.0.1 serves the files.
The store only checks bytes, so these files are random bytes and no TensorFlow is imported.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import tomli_w
from click.testing import CliRunner

import zoo.catalog
from zoo.cli.main import cli
from zoo.errors import WeightsError
from zoo.weights.store import cache_path, fetch, verify_cache, weights_dir

PAYLOAD = os.urandom(200_000)
OTHER = os.urandom(200_000)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileServer:
    """Serves ``routes[path] = (body, mode)``; counts requests per path.

    Modes: ``ok``; ``slow`` (body in 20 pieces over ~2 s); ``truncated`` (announces the full
    length, sends half, closes); ``error`` (HTTP 500).
    """

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                with server.lock:
                    server.hits[self.path] = server.hits.get(self.path, 0) + 1
                body, mode = server.routes.get(self.path, (b"", "missing"))
                if mode == "missing":
                    self.send_error(404)
                    return
                if mode == "error":
                    self.send_error(500, "Internal Server Error")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "truncated":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                pieces = 20 if mode == "slow" else 1
                step = -(-len(body) // pieces)
                for i in range(0, len(body), step):
                    self.wfile.write(body[i : i + step])
                    self.wfile.flush()
                    if mode == "slow":
                        time.sleep(0.1)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server():
    with FileServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """On top of conftest's clean_zoo: the cache and the cwd inside this test's tmp_path."""
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # no ./registry.toml layer from the working directory


def register(tmp_path: Path, monkeypatch, entries: list[dict]) -> Path:
    """Write a user registry adding weight entries to model 'mlp' and make it a layer."""
    path = tmp_path / "user-registry.toml"
    path.write_text(tomli_w.dumps({"models": {"mlp": {"weights": entries}}}))
    monkeypatch.setenv("ZOO_REGISTRY", str(path))
    zoo.catalog.reset()
    return path


def entry(name: str, source: str, data: bytes, **extra) -> dict:
    return {"name": name, "source": source, "sha256": sha(data), "size": len(data), **extra}


def resolve(label: str):
    return zoo.catalog.get_catalog().resolve(label).weights


def leftovers(folder: Path) -> list[str]:
    """Files in the cache besides verified downloads and lock files."""
    if not folder.is_dir():
        return []
    return [p.name for p in folder.rglob("*") if p.is_file() and p.name != ".lock"]


# ------------------------------------------------------------------------------ downloads
def test_download_verifies_and_caches(tmp_path, monkeypatch, server, capsys):
    server.routes["/w/mlp-remote.weights.h5"] = (PAYLOAD, "ok")
    url = f"{server.url}/w/mlp-remote.weights.h5"
    register(tmp_path, monkeypatch, [entry("remote", url, PAYLOAD)])
    stale = weights_dir() / sha(PAYLOAD) / ".mlp-remote.weights.h5.x1y2.part"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by a killed download")
    path = fetch(resolve("mlp:remote"), "mlp:remote", progress=True)
    assert "fetching mlp:remote" in capsys.readouterr().err
    assert path == weights_dir() / sha(PAYLOAD) / "mlp-remote.weights.h5"
    assert path.read_bytes() == PAYLOAD
    assert fetch(resolve("mlp:remote"), "mlp:remote") == path  # from the cache
    assert server.hits == {"/w/mlp-remote.weights.h5": 1}
    assert leftovers(path.parent) == [path.name]


def test_wrong_hash_deletes_temp_file_and_names_digests(tmp_path, monkeypatch, server):
    server.routes["/bad.weights.h5"] = (OTHER, "ok")
    register(tmp_path, monkeypatch, [entry("bad", f"{server.url}/bad.weights.h5", PAYLOAD)])
    with pytest.raises(WeightsError) as err:
        fetch(resolve("mlp:bad"), "mlp:bad")
    message = str(err.value)
    assert sha(PAYLOAD) in message and sha(OTHER) in message and "bad.weights.h5" in message
    assert "\n" not in message
    assert not cache_path(resolve("mlp:bad")).exists()
    assert leftovers(weights_dir()) == []


def test_truncated_body_fails_and_leaves_nothing(tmp_path, monkeypatch, server):
    server.routes["/t.weights.h5"] = (PAYLOAD, "truncated")
    register(tmp_path, monkeypatch, [entry("cut", f"{server.url}/t.weights.h5", PAYLOAD)])
    with pytest.raises(WeightsError) as err:
        fetch(resolve("mlp:cut"), "mlp:cut")
    assert "mlp:cut" in str(err.value) and f"of {len(PAYLOAD)} bytes" in str(err.value)
    assert leftovers(weights_dir()) == []


def test_server_error_is_a_weights_error(tmp_path, monkeypatch, server):
    server.routes["/e.weights.h5"] = (PAYLOAD, "error")
    register(tmp_path, monkeypatch, [entry("err", f"{server.url}/e.weights.h5", PAYLOAD)])
    with pytest.raises(WeightsError, match="HTTP 500"):
        fetch(resolve("mlp:err"), "mlp:err")
    assert leftovers(weights_dir()) == []


def test_oversized_body_is_cut_off(tmp_path, monkeypatch, server):
    server.routes["/big.weights.h5"] = (PAYLOAD + OTHER, "ok")
    register(tmp_path, monkeypatch, [entry("big", f"{server.url}/big.weights.h5", PAYLOAD)])
    with pytest.raises(WeightsError, match="more than the expected"):
        fetch(resolve("mlp:big"), "mlp:big")
    assert leftovers(weights_dir()) == []


def test_corrupt_cached_file_is_fetched_again_once(tmp_path, monkeypatch, server):
    server.routes["/c.weights.h5"] = (PAYLOAD, "ok")
    register(tmp_path, monkeypatch, [entry("c", f"{server.url}/c.weights.h5", PAYLOAD)])
    path = fetch(resolve("mlp:c"), "mlp:c")
    path.write_bytes(PAYLOAD[:-10] + b"0123456789")  # same size, wrong content
    assert fetch(resolve("mlp:c"), "mlp:c").read_bytes() == PAYLOAD
    assert server.hits["/c.weights.h5"] == 2
    # If the server now serves a bad file too, the repair fails clearly (once, no loop).
    path.write_bytes(b"corrupt")
    server.routes["/c.weights.h5"] = (OTHER, "ok")
    with pytest.raises(WeightsError, match=sha(OTHER)):
        fetch(resolve("mlp:c"), "mlp:c")
    assert server.hits["/c.weights.h5"] == 3
    assert not path.exists()


def test_two_processes_download_once(tmp_path, monkeypatch, server):
    server.routes["/slow.weights.h5"] = (PAYLOAD, "slow")
    register(tmp_path, monkeypatch, [entry("slow", f"{server.url}/slow.weights.h5", PAYLOAD)])
    code = (
        "import zoo.catalog, zoo.weights.store\n"
        "e = zoo.catalog.get_catalog().resolve('mlp:slow').weights\n"
        "p = zoo.weights.store.fetch(e, 'mlp:slow', progress=False)\n"
        "print(p, len(p.read_bytes()))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    expected = f"{weights_dir() / sha(PAYLOAD) / 'slow.weights.h5'} {len(PAYLOAD)}"
    assert outs == [expected, expected]
    assert server.hits == {"/slow.weights.h5": 1}
    assert leftovers(weights_dir()) == ["slow.weights.h5"]


# ------------------------------------------------------------------------------- offline
@pytest.fixture
def no_sockets(monkeypatch):
    attempts: list[object] = []

    def refuse(self, address):  # noqa: ANN001
        attempts.append(address)
        raise AssertionError(f"a connection to {address} was opened")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def test_offline_missing_file_names_it_and_the_fetch_command(
    tmp_path, monkeypatch, server, no_sockets
):
    server.routes["/x/r.weights.h5"] = (PAYLOAD, "ok")
    register(tmp_path, monkeypatch, [entry("r", f"{server.url}/x/r.weights.h5", PAYLOAD)])
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(WeightsError) as err:
        fetch(resolve("mlp:r"), "mlp:r")
    assert "r.weights.h5" in str(err.value)
    assert "zoo weights fetch mlp:r" in str(err.value)
    assert no_sockets == [] and server.hits == {}
    # The same fetch with ZOO_OFFLINE unset does try to connect (the guard is real).
    monkeypatch.delenv("ZOO_OFFLINE")
    with pytest.raises(AssertionError, match="connection"):
        fetch(resolve("mlp:r"), "mlp:r")
    assert len(no_sockets) == 1


def test_offline_uses_the_verified_cache(tmp_path, monkeypatch, server):
    server.routes["/o.weights.h5"] = (PAYLOAD, "ok")
    register(tmp_path, monkeypatch, [entry("o", f"{server.url}/o.weights.h5", PAYLOAD)])
    path = fetch(resolve("mlp:o"), "mlp:o")
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    attempts: list[object] = []
    monkeypatch.setattr(socket.socket, "connect", lambda s, a: attempts.append(a))
    assert fetch(resolve("mlp:o"), "mlp:o") == path
    path.write_bytes(b"x" * len(PAYLOAD))  # corrupt: offline cannot repair it
    with pytest.raises(WeightsError, match="zoo weights fetch mlp:o"):
        fetch(resolve("mlp:o"), "mlp:o")
    assert attempts == [] and server.hits == {"/o.weights.h5": 1}


# ------------------------------------------------------------------- local and package
def test_local_source_relative_to_its_registry(tmp_path, monkeypatch):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "l.weights.h5").write_bytes(PAYLOAD)
    register(tmp_path, monkeypatch, [entry("l", "files/l.weights.h5", PAYLOAD)])
    monkeypatch.chdir(tmp_path / "files")  # relative to the registry, not the cwd
    assert fetch(resolve("mlp:l"), "mlp:l") == tmp_path / "files" / "l.weights.h5"
    (tmp_path / "files" / "l.weights.h5").write_bytes(OTHER)
    with pytest.raises(WeightsError, match=f"expected sha256 {sha(PAYLOAD)}"):
        fetch(resolve("mlp:l"), "mlp:l")
    (tmp_path / "files" / "l.weights.h5").unlink()
    with pytest.raises(WeightsError, match="does not exist"):
        fetch(resolve("mlp:l"), "mlp:l")


def test_package_source(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "teamweights"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "p.weights.h5").write_bytes(PAYLOAD)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    register(
        tmp_path,
        monkeypatch,
        [
            entry("p", "package:teamweights/p.weights.h5", PAYLOAD),
            entry("gone", "package:teamweights/gone.weights.h5", PAYLOAD),
        ],
    )
    assert fetch(resolve("mlp:p"), "mlp:p") == pkg / "p.weights.h5"
    with pytest.raises(WeightsError, match="missing from package 'teamweights'"):
        fetch(resolve("mlp:gone"), "mlp:gone")


# ----------------------------------------------------------------------------------- CLI
def test_cli_list_fetch_path_verify(tmp_path, monkeypatch, server):
    server.routes["/a.weights.h5"] = (PAYLOAD, "ok")
    register(
        tmp_path,
        monkeypatch,
        [entry("a", f"{server.url}/a.weights.h5", PAYLOAD, dataset="blobs", metrics={"acc": 0.9})],
    )
    runner = CliRunner()
    listing = runner.invoke(cli, ["weights", "list", "mlp"])
    assert listing.exit_code == 0, listing.output
    row = next(line for line in listing.output.splitlines() if line.startswith("mlp:a"))
    assert "blobs" in row and "acc=0.9" in row and row.split()[5] == "no"

    fetched = runner.invoke(cli, ["weights", "fetch", "mlp:a", "--no-progress"])
    assert fetched.exit_code == 0, fetched.output
    path = weights_dir() / sha(PAYLOAD) / "a.weights.h5"
    assert str(path) in fetched.output
    listing = runner.invoke(cli, ["weights", "list", "mlp", "--json"])
    assert json.loads(listing.output)[0]["cached"] is True

    printed = runner.invoke(cli, ["weights", "path", "mlp:a"])
    assert printed.output.strip() == str(path)
    assert server.hits == {"/a.weights.h5": 1}

    verified = runner.invoke(cli, ["weights", "verify"])
    assert verified.exit_code == 0 and f"ok       {path}" in verified.output

    path.write_bytes(OTHER)
    verified = runner.invoke(cli, ["weights", "verify"])
    assert isinstance(verified.exception, WeightsError)
    assert str(path) in str(verified.exception)
    assert [item.ok for item in verify_cache()] == [False]


def test_cli_exit_codes_and_no_tensorflow(tmp_path, monkeypatch):
    """Through the real entry point: a corrupt cache exits 2 naming the file; `zoo weights
    list` does not import TensorFlow."""
    (tmp_path / "l.weights.h5").write_bytes(PAYLOAD)
    register(tmp_path, monkeypatch, [entry("l", str(tmp_path / "l.weights.h5"), PAYLOAD)])
    corrupt = weights_dir() / sha(PAYLOAD) / "x.weights.h5"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(OTHER)
    code = (
        "import sys\n"
        "from zoo.cli.main import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "finally:\n"
        "    print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    listing = subprocess.run(
        [sys.executable, "-c", code, "weights", "list"], capture_output=True, text=True
    )
    assert listing.returncode == 0, listing.stderr
    assert "mlp:l" in listing.stdout and listing.stdout.strip().endswith("False False")
    verify = subprocess.run(
        [sys.executable, "-c", code, "weights", "verify"], capture_output=True, text=True
    )
    assert verify.returncode == 2
    assert str(corrupt) in verify.stderr and len(verify.stderr.strip().splitlines()) == 1
    missing = subprocess.run(
        [sys.executable, "-c", code, "weights", "path", "mlp:nope"], capture_output=True, text=True
    )
    assert missing.returncode == 2 and "'nope'" in missing.stderr


def test_cli_hash_and_verify_delete(tmp_path):
    (tmp_path / "new.weights.h5").write_bytes(PAYLOAD)
    runner = CliRunner()
    printed = runner.invoke(cli, ["weights", "hash", str(tmp_path / "new.weights.h5")])
    assert printed.exit_code == 0
    assert f'sha256 = "{sha(PAYLOAD)}"' in printed.output
    assert f"size = {len(PAYLOAD)}" in printed.output
    corrupt = weights_dir() / sha(PAYLOAD) / "new.weights.h5"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(OTHER)
    result = runner.invoke(cli, ["weights", "verify", "--delete"])
    assert isinstance(result.exception, WeightsError) and "deleted" in str(result.exception)
    assert not corrupt.exists()
    assert runner.invoke(cli, ["weights", "verify"]).exit_code == 0
