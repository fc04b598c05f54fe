"""A scaled-out playground on this machine, for the tests: redis-server with its data in a
temporary folder, three app processes (``python -m app`` with ``REDIS_URL``, each with its own
DATA_DIR, as on three machines) and nginx in front
with the deployment's own configuration (deploy/nginx.conf), round robin, no stickiness; all
on free ports of 127.0.0.1, none of them a system service.

Without Debian's ``redis-server`` or ``nginx`` the tests that need them are skipped, except in CI
(``CI=true``), where ``.ci/run`` installs both and a missing one is a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.processes import stop

ROOT = Path(__file__).resolve().parents[1]
NGINX_SITE = ROOT / "deploy" / "nginx.conf"
APPS = 3
START_TIMEOUT = 90.0  # generous: three processes may compile the training step at once on a busy machine
SBIN = os.pathsep.join(("/usr/sbin", "/usr/bin", os.environ.get("PATH", "")))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def servers_or_skip() -> tuple[str, str]:
    """The paths of redis-server and nginx; skip (fail in CI) when one is missing."""
    found = {name: shutil.which(name, path=SBIN) for name in ("redis-server", "nginx")}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        reason = f"{' and '.join(missing)} not installed: apt-get install -y redis-server nginx (.ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found["redis-server"], found["nginx"]


def _wait(what: str, ready, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{what} did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _listens(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Cluster:
    """The running servers; tests may stop and start the pieces (``kill_app``, ``stop_redis``)."""

    def __init__(self, redis_server: str, nginx: str, app_env: dict[str, str] | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="playground-cluster-"))
        self.dir.chmod(0o777)  # nginx's workers write their temporary files here
        self.redis_server, self.nginx_binary = redis_server, nginx
        self.redis_port, self.proxy_port = free_port(), free_port()
        self.app_ports = [free_port() for _ in range(APPS)]
        self.app_env = app_env or {}
        self.url = f"http://127.0.0.1:{self.proxy_port}"
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.redis: subprocess.Popen | None = None
        self.apps: list[subprocess.Popen | None] = [None] * APPS
        self.nginx: subprocess.Popen | None = None
        try:
            self.start_redis()
            for i in range(APPS):  # all at once: each takes seconds to import its libraries
                self.start_app(i, wait=False)
            for i in range(APPS):
                self._wait_app(i)
            self._start_nginx()
        except BaseException:
            self.close()
            raise

    # -- redis ------------------------------------------------------------------------------------

    def start_redis(self) -> None:
        """redis-server with an append-only file in the temporary folder, fsynced on every write."""
        conf = self.dir / "redis.conf"
        conf.write_text(f"bind 127.0.0.1\nport {self.redis_port}\ndir {self.dir}\nappendonly yes\n"
                        "appendfsync always\nsave \"\"\ndaemonize no\nprotected-mode yes\n")
        log = self.dir / "redis.log"
        self.redis = subprocess.Popen([self.redis_server, str(conf)], stdout=log.open("a"), stderr=subprocess.STDOUT)
        _wait("redis-server", lambda: _listens(self.redis_port), self.redis, log)

    def stop_redis(self) -> None:
        """Stop redis-server as an administrator would (SIGTERM: it writes its data and exits)."""
        if self.redis is not None:
            self.redis.send_signal(signal.SIGTERM)
            self.redis.wait(timeout=20)
            self.redis = None

    # -- the app processes -----------------------------------------------------------------------

    def start_app(self, i: int, wait: bool = True) -> None:
        log = self.dir / f"app{i}.log"
        env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(self.app_ports[i]), "REDIS_URL": self.redis_url,
               "WORKERS": "1", "LOG_LEVEL": "warning", "SESSION_STARTS_PER_MINUTE": "100000",
               "PAGE_OPENS_PER_MINUTE": "100000", "DATA_DIR": str(self.data_dir(i)), **self.app_env}
        self.apps[i] = subprocess.Popen([sys.executable, "-m", "app"], cwd=ROOT, env=env,
                                        stdout=log.open("a"), stderr=subprocess.STDOUT)
        if wait:
            self._wait_app(i)

    def data_dir(self, i: int) -> Path:
        """App process ``i``'s own DATA_DIR, as on separate machines (with Redis it stays empty)."""
        return self.dir / f"data{i}"

    def _wait_app(self, i: int) -> None:
        url = f"http://127.0.0.1:{self.app_ports[i]}/healthz"
        _wait(f"app process {i}", lambda: _answers(url), self.apps[i], self.dir / f"app{i}.log")

    def kill_app(self, i: int) -> None:
        """SIGKILL: the process dies at once, whatever it was doing."""
        process = self.apps[i]
        if process is not None:
            process.kill()
            process.wait()
            self.apps[i] = None

    # -- nginx --------------------------------------------------------------------------------------

    def _start_nginx(self) -> None:
        site = NGINX_SITE.read_text()
        for name, port in zip(("app1", "app2", "app3"), self.app_ports, strict=True):  # (their parameters kept)
            site = site.replace(f"server {name}:8000 ", f"server 127.0.0.1:{port} ")
        site = site.replace("listen 80;", f"listen 127.0.0.1:{self.proxy_port};")
        temp = "".join(f"{kind}_temp_path {self.dir}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf = self.dir / "nginx.conf"
        conf.write_text(f"daemon off;\nworker_processes 1;\npid {self.dir}/nginx.pid;\n"
                        f"error_log {self.dir}/nginx-error.log warn;\nevents {{}}\n"
                        f"http {{\naccess_log off;\n{temp}{site}}}\n")
        log = self.dir / "nginx.log"
        self.nginx = subprocess.Popen([self.nginx_binary, "-c", str(conf), "-p", str(self.dir), "-e", str(self.dir / "nginx-error.log")],
                                      stdout=log.open("a"), stderr=subprocess.STDOUT)
        _wait("nginx", lambda: _answers(f"{self.url}/healthz"), self.nginx, log)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.dir.glob("*.log")))

    def close(self) -> None:
        for process in (self.nginx, *self.apps, self.redis):
            if process is not None:
                stop(process)
        shutil.rmtree(self.dir, ignore_errors=True)
