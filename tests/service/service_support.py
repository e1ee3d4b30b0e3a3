"""What the decision-service tests share: a real ``lexauthz serve`` on 127.0.0.1, started in a subprocess, and the
certification scenario's names.  (A module of its own name: ``conftest`` is a name every test folder uses.)

Every server binds port 0 and reports its ports on stderr (``listening on http://HOST:PORT grpc://HOST:PORT``);
:class:`Server` waits for that line and for readiness, and stops the process with SIGTERM at the end.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

# the `server` extra; without it every service test is skipped (collection of a module that imports this stops here)
pytest.importorskip("uvicorn")
pytest.importorskip("orjson")
pytest.importorskip("prometheus_client")
httpx = pytest.importorskip("httpx")

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
ROOT = os.path.dirname(os.path.dirname(HERE))
AUTHZEN_ACCOUNT = os.path.join(DATA, "authzen")
ADMIN_TOKEN = "test-admin-token-0123456789"

ACCOUNT_ID = "111122223333"
ALICE = f"arn:aws:iam::{ACCOUNT_ID}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT_ID}:user/bob"
RECORD_1 = f"arn:aws:lex:us-east-1:{ACCOUNT_ID}:bot/RECORD0001"
RECORD_2 = f"arn:aws:lex:us-east-1:{ACCOUNT_ID}:bot/RECORD0002"

_LISTEN = re.compile(r"listening on http://([^:\s]+):(\d+)(?: grpc://[^:\s]+:(\d+))?")


class Server:
    """A ``lexauthz serve`` subprocess; ``url`` and ``grpc_port`` once it listens."""

    def __init__(self, args: list[str], env: dict | None = None, wait_ready: bool = True):
        full_env = dict(os.environ)
        full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
        full_env["LEXAUTHZ_ADMIN_TOKEN"] = ADMIN_TOKEN
        full_env.update(env or {})
        self.proc = subprocess.Popen([sys.executable, "-m", "lexauthz", "serve", "--port", "0", *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=full_env,
                                     cwd=ROOT)
        self.lines: list[str] = []
        self._listen = threading.Event()
        self.url = None
        self.grpc_port = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._listen.wait(30) or self.url is None:
            self.stop()
            raise RuntimeError("the server did not start: " + "".join(self.lines))
        if wait_ready:
            self.wait_ready()

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            m = _LISTEN.search(line)
            if m and not self._listen.is_set():
                self.url = f"http://{m.group(1)}:{m.group(2)}"
                self.grpc_port = int(m.group(3)) if m.group(3) else None
                self._listen.set()
        self._listen.set()

    def wait_ready(self, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=5) as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError("the server exited: " + "".join(self.lines))
                r = c.get("/readyz")
                if r.status_code == 200:
                    return r.json()
                time.sleep(0.05)
        raise RuntimeError("the server never became ready: " + "".join(self.lines))

    def wait_line(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            time.sleep(0.02)
        raise AssertionError(f"no stderr line with {text!r}: {''.join(self.lines)}")

    def client(self, **kw) -> "httpx.Client":
        return httpx.Client(base_url=self.url, timeout=kw.pop("timeout", 10), **kw)

    def admin(self) -> dict:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def stop(self, sig=signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)
        self.proc.stderr.close()
        return self.proc.returncode


def write_json(path, data) -> str:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)
    return str(path)
