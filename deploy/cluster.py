"""The production layout on one machine, loopback only: HAProxy in front of several daphne servers,
workers, a Redis primary and replica watched by three Sentinels, a PostgreSQL of its own, and a
Prometheus that scrapes every server and worker.

:class:`Cluster` starts and stops the whole layout or any one process (kill a server, stop
PostgreSQL, fail Redis over, drain a server in HAProxy); ``scripts/cluster`` runs it through
``python -m deploy`` (deploy/__main__.py), and tests drive it directly. Configuration comes from
the templates in ``deploy/`` (the ones a deployment copies), rendered with this layout's ports;
everything it writes lives under its state folder (``var/cluster/`` by default).
"""

import hashlib
import os
import pwd
import secrets
import signal
import socket
import stat
import string
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psycopg
import redis

from .ports import Ports
from .processes import Child, port_is_free, wait_until
from .prometheus import write_prometheus_config

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "deploy"
MASTER_NAME = "secureai"
# The first primary, then its replica; Sentinel may swap their roles.
REDIS_NAMES = ("redis-1", "redis-2")
DATABASE_NAME = "secureai"
POSTGRES_USER = "postgres"
HAPROXY_BACKEND = "secureai_servers"
ASGI_APPLICATION = "secureai.asgi:application"
# Start order; a stop goes the other way. A process that joins the layout gets a kind here and its
# Child in Cluster._children().
KINDS = ("postgres", "redis", "sentinel", "server", "worker", "haproxy", "prometheus")
# What the cluster decides for its own processes, whatever the caller's environment says.
OWNED_VARIABLES = {
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_SENTINELS",
    "REDIS_SENTINEL_MASTER",
    "CHANNEL_LAYER",
    "SECUREAI_TEST_DATABASE_NAME",
    "SECUREAI_TEST_RUN",
    "METRICS_TOKEN",
}
START_TIMEOUT = 90.0


def render(template: Path, **values: object) -> str:
    """A template of deploy/ with its ${NAME} placeholders filled; a missing value is an error."""
    return string.Template(template.read_text()).substitute({key: str(value) for key, value in values.items()})


def find_binary(name: str, *folders: str) -> str:
    """A Debian binary: from ``folders``, the PATH, or the sbin folders that a non-root PATH may lack."""
    for folder in (*folders, *os.environ.get("PATH", "").split(os.pathsep), "/usr/sbin", "/sbin"):
        candidate = Path(folder) / name
        if folder and os.access(candidate, os.X_OK):
            return str(candidate)
    raise FileNotFoundError(f"{name} is not installed (scripts/cluster installs the Debian packages it needs)")


def postgres_binary(name: str) -> str:
    """initdb and postgres of the newest PostgreSQL installed (Debian keeps them off the PATH)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parent.name))
    return find_binary(name, *(str(path) for path in reversed(versions)))


def others_can_enter(path: Path) -> bool:
    """Whether another user (postgres) can reach ``path``: every folder on the way is o+x."""
    return all(folder.stat().st_mode & stat.S_IXOTH for folder in (path, *path.parents) if folder.exists())


class Cluster:
    """The layout's processes, started in order and stopped the other way.

    ``with Cluster(state_dir=..., ports=Ports.free(servers=2, workers=1)) as cluster:`` starts it all
    (migrated, demo seeded) and stops it all on the way out. Parts by name: ``postgres``,
    ``redis-1`` and ``redis-2`` (the first primary and its replica), ``sentinel-1..3``,
    ``server-1..N``, ``worker-1..N``, ``haproxy``. ``server_env`` adds settings of one server's own
    to ``env``, by name.
    """

    def __init__(
        self,
        *,
        state_dir: Path,
        ports: Ports,
        settings_module: str = "secureai.settings.local",
        env: Mapping[str, str] | None = None,
        server_env: Mapping[str, Mapping[str, str]] | None = None,
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.ports = ports
        self.settings_module = settings_module
        self.extra_env = dict(env or {})
        # One server's own settings on top of ``env``, by name (a server that reaches Redis another way).
        self.server_env = {name: dict(values) for name, values in (server_env or {}).items()}
        self.log = log
        self.seed_output = ""
        self.postgres_dir = self._postgres_dir()
        self.children: dict[str, Child] = {child.name: child for child in self._children()}

    # --- addresses -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The service, through HAProxy."""
        return f"http://127.0.0.1:{self.ports.haproxy}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ports.haproxy}"

    @property
    def origin(self) -> str:
        """The Origin a browser on the service's pages sends."""
        return self.url

    @property
    def haproxy_stats_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.haproxy_stats}/"

    @property
    def server_names(self) -> list[str]:
        return [name for name, child in self.children.items() if child.kind == "server"]

    def server_url(self, name: str) -> str:
        """One server directly, bypassing HAProxy."""
        return f"http://127.0.0.1:{self.ports.servers[self.server_names.index(name)]}"

    @property
    def database_url(self) -> str:
        return f"postgres://{POSTGRES_USER}@127.0.0.1:{self.ports.postgres}/{DATABASE_NAME}"

    @property
    def redis_sentinels(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.ports.sentinels)

    @property
    def haproxy_socket(self) -> Path:
        return self.state_dir / "haproxy" / "admin.sock"

    def service_env(self, **extra: str) -> dict[str, str]:
        """The environment of the service's processes (servers, workers, manage.py commands)."""
        env = {key: value for key, value in os.environ.items() if key not in OWNED_VARIABLES}
        env.update(
            DJANGO_SETTINGS_MODULE=self.settings_module,
            DATABASE_URL=self.database_url,
            CHANNEL_LAYER="redis",
            REDIS_SENTINELS=self.redis_sentinels,
            REDIS_SENTINEL_MASTER=MASTER_NAME,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            METRICS_TOKEN=self.metrics_token,
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        env.update(extra)
        return env

    # --- the whole layout ----------------------------------------------------------------------
    def start(self) -> None:
        """Start every part in order, migrate and seed the demo; on failure stop what started."""
        busy = [port for port in self.ports.all() if not port_is_free(port)]
        if busy:
            raise RuntimeError(f"ports already in use: {busy} (another cluster still running?)")
        try:
            self.start_postgres()
            self.start_redis()
            self.log("Migrating the database")
            self.manage("migrate", "--noinput", "-v0")
            self.log("Seeding the demo")
            self.seed_output = self.manage("seed_demo").stdout
            self._start_kind("server")
            self._start_kind("worker")
            self.start_haproxy()
            self.start_prometheus()
        except BaseException:
            self.stop()
            raise

    def start_postgres(self) -> None:
        """PostgreSQL, initialised on first use (its data is kept between runs), with the database."""
        self._init_postgres()
        self._start_kind("postgres")

    def start_redis(self) -> None:
        """The primary, its replica and the three Sentinels, from fresh copies of the templates."""
        primary, replica = self.ports.redis
        files = {
            "redis-1/redis.conf": ("redis/primary.conf", {"PORT": primary}),
            "redis-2/redis.conf": ("redis/replica.conf", {"PORT": replica, "PRIMARY_PORT": primary}),
        }
        for number, port in enumerate(self.ports.sentinels, 1):
            values = {"PORT": port, "MASTER_NAME": MASTER_NAME, "PRIMARY_PORT": primary}
            files[f"sentinel-{number}/sentinel.conf"] = ("redis/sentinel.conf", values)
        for relative, (template, values) in files.items():
            path = self.state_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(TEMPLATES / template, DIR=path.parent, **values))
        self._start_kind("redis")
        self._start_kind("sentinel")

    def start_haproxy(self) -> None:
        config = self.state_dir / "haproxy" / "haproxy.cfg"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(self.haproxy_config())
        self._start_kind("haproxy")

    def start_prometheus(self) -> None:
        """deploy/prometheus, rendered with every server's and worker's address and the token."""
        folder = self.state_dir / "prometheus"
        folder.mkdir(parents=True, exist_ok=True)
        targets = {
            "secureai-server": [f"127.0.0.1:{port}" for port in self.ports.servers],
            "secureai-worker": [f"127.0.0.1:{port}" for port in self.ports.worker_metrics],
        }
        write_prometheus_config(folder, token=self.metrics_token, targets=targets, interval="5s")
        self._start_kind("prometheus")

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.prometheus}"

    @property
    def metrics_token(self) -> str:
        """The bearer token of /metrics, made on first use and kept with the layout's state."""
        path = self.state_dir / "metrics-token"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text()

    def haproxy_config(self) -> str:
        """deploy/haproxy/haproxy.cfg rendered for this layout."""
        servers = [
            f"server {name} 127.0.0.1:{port}" for name, port in zip(self.server_names, self.ports.servers, strict=True)
        ]
        return render(
            TEMPLATES / "haproxy" / "haproxy.cfg",
            FRONTEND_ADDRESS=f"127.0.0.1:{self.ports.haproxy}",
            STATS_ADDRESS=f"127.0.0.1:{self.ports.haproxy_stats}",
            ADMIN_SOCKET=self.haproxy_socket,
            PUBLIC_HOST="127.0.0.1",
            # Plenty for a demo, and within the descriptor limit of a developer's shell.
            MAX_CONNECTIONS=4000,
            SERVERS="\n    ".join(servers),
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every running part, newest kind first; each kind is signalled at once, then awaited."""
        for kind in reversed(KINDS):
            children = [child for child in self.children.values() if child.kind == kind and child.process]
            for child in children:
                child.signal_stop()
            for child in children:
                child.wait_stopped(timeout)

    def __enter__(self) -> "Cluster":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- one part at a time ---------------------------------------------------------------------
    def start_process(self, name: str, *, wait: bool = True) -> Child:
        child = self.children[name]
        child.start()
        if wait:
            self._wait_ready(child)
        return child

    def stop_process(self, name: str, timeout: float = 10.0) -> int | None:
        """A clean stop (SIGTERM; PostgreSQL's fast shutdown); SIGKILL after ``timeout``."""
        return self.children[name].stop(timeout)

    def kill_process(self, name: str, sig: int = signal.SIGKILL) -> int | None:
        return self.children[name].stop_with(sig)

    def restart_process(self, name: str) -> Child:
        self.stop_process(name)
        return self.start_process(name)

    def manage(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run a manage.py command against this cluster's database and Redis."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.service_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result

    # --- Redis and Sentinel ---------------------------------------------------------------------
    def sentinel(self, index: int = 0) -> redis.Redis:
        """A client of one Sentinel (SENTINEL commands: redis-py's sentinel_* methods)."""
        return redis.Redis(port=self.ports.sentinels[index], socket_timeout=2, decode_responses=True)

    @property
    def redis_ports(self) -> dict[str, int]:
        return dict(zip(REDIS_NAMES, self.ports.redis, strict=True))

    def redis_primary(self) -> str:
        """The name (redis-1 or redis-2) of the primary the Sentinels point at now."""
        with self.sentinel() as sentinel:
            _, port = sentinel.sentinel_get_master_addr_by_name(MASTER_NAME)
        return next(name for name, known in self.redis_ports.items() if known == int(port))

    def failover(self, timeout: float = 30.0) -> str:
        """Ask Sentinel to promote the replica now (no waiting for a failure); the new primary's name."""
        before = self.redis_primary()
        with self.sentinel() as sentinel:
            sentinel.sentinel_failover(MASTER_NAME)
        wait_until(
            lambda: self.redis_primary() != before and self._is_primary(self.redis_primary()), timeout, "failover"
        )
        return self.redis_primary()

    def _is_primary(self, name: str) -> bool:
        with redis.Redis(port=self.redis_ports[name], socket_timeout=2) as client:
            return client.info("replication")["role"] == "master"

    # --- HAProxy ------------------------------------------------------------------------------
    def haproxy_command(self, command: str) -> str:
        """One command on HAProxy's runtime socket (what socat would send); its answer."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.haproxy_socket))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def drain(self, server: str) -> None:
        """No new connections for ``server``; its open WebSockets stay (the drain procedure's step 1)."""
        self.haproxy_command(f"set server {HAPROXY_BACKEND}/{server} state drain")

    def make_ready(self, server: str) -> None:
        self.haproxy_command(f"set server {HAPROXY_BACKEND}/{server} state ready")

    def server_state(self, server: str) -> str:
        """HAProxy's status of ``server``: UP, DOWN, DRAIN, MAINT, or a transition like "UP 1/2"."""
        return self.server_stats(server)["status"]

    def server_stats(self, server: str) -> dict[str, str]:
        """HAProxy's figures of ``server`` (``show stat``: ``status``, ``scur`` its open connections...)."""
        header, *rows = self.haproxy_command("show stat").strip().splitlines()
        columns = header.lstrip("# ").split(",")
        for row in rows:
            fields = dict(zip(columns, row.split(","), strict=False))
            if fields["pxname"] == HAPROXY_BACKEND and fields["svname"] == server:
                return fields
        raise KeyError(server)

    # --- building the parts ---------------------------------------------------------------------
    def _children(self) -> list[Child]:
        python, logs = sys.executable, self.state_dir / "logs"

        def child(name: str, kind: str, argv: list[str], env: dict[str, str] | None = None, **options: Any) -> Child:
            return Child(name, kind, argv, env or dict(os.environ), ROOT, logs / f"{name}.log", **options)

        pg = self.postgres_dir
        children = [
            child(
                "postgres",
                "postgres",
                [
                    postgres_binary("postgres"),
                    *("-D", str(pg / "data"), "-p", str(self.ports.postgres)),
                    *("-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={pg / 'run'}"),
                    # Each process's pool may grow to DATABASE_POOL_MAX_SIZE (20) connections.
                    *("-c", "max_connections=300"),
                ],
                ready=self._postgres_ready,
                user=POSTGRES_USER,
                stop_signal=signal.SIGINT,
            ),
        ]
        for name, port in self.redis_ports.items():
            children.append(
                child(
                    name,
                    "redis",
                    [find_binary("redis-server"), str(self.state_dir / name / "redis.conf")],
                    ready=lambda port=port: _redis_ready(port),
                )
            )
        for number, port in enumerate(self.ports.sentinels, 1):
            conf = self.state_dir / f"sentinel-{number}" / "sentinel.conf"
            children.append(
                child(
                    f"sentinel-{number}",
                    "sentinel",
                    [find_binary("redis-sentinel"), str(conf)],
                    ready=lambda port=port: self._sentinel_knows_everyone(port),
                )
            )
        for number, port in enumerate(self.ports.servers, 1):
            children.append(
                child(
                    f"server-{number}",
                    "server",
                    # --proxy-headers: the client address comes from HAProxy's X-Forwarded-For.
                    [python, "-m", "daphne", "--proxy-headers", "-b", "127.0.0.1", "-p", str(port), ASGI_APPLICATION],
                    self.service_env(**self.server_env.get(f"server-{number}", {})),
                    ready=lambda port=port: _answers(f"http://127.0.0.1:{port}/readyz"),
                )
            )
        for number, metrics_port in enumerate(self.ports.worker_metrics, 1):
            children.append(
                child(
                    f"worker-{number}",
                    "worker",
                    [python, "manage.py", "run_worker", "--demo", "--name", f"worker-{number}"],
                    self.service_env(WORKER_METRICS_PORT=str(metrics_port)),
                )
            )
        children.append(
            child(
                "haproxy",
                "haproxy",
                [find_binary("haproxy"), "-db", "-f", str(self.state_dir / "haproxy" / "haproxy.cfg")],
                ready=lambda: _answers(f"{self.url}/readyz") and self.haproxy_socket.exists(),
            )
        )
        prometheus = self.state_dir / "prometheus"
        children.append(
            child(
                "prometheus",
                "prometheus",
                [
                    find_binary("prometheus"),
                    f"--config.file={prometheus / 'prometheus.yml'}",
                    f"--storage.tsdb.path={prometheus / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.ports.prometheus}",
                ],
                ready=lambda: _answers(f"{self.prometheus_url}/-/ready"),
            )
        )
        return children

    def _postgres_dir(self) -> Path:
        """Where PostgreSQL keeps its data: var/cluster/postgres, or a folder the postgres user can reach."""
        wanted = self.state_dir / "postgres"
        if os.geteuid() != 0 or others_can_enter(self.state_dir):
            return wanted
        digest = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:12]
        return Path("/var/tmp") / f"secureai-cluster-{digest}" / "postgres"

    def _init_postgres(self) -> None:
        """initdb once, as the postgres user (initdb refuses root); trust on loopback, like the demo."""
        pg = self.postgres_dir
        (pg / "run").mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            for path in (pg, pg / "run"):
                os.chown(path, *_uid_gid(POSTGRES_USER))
        if (pg / "data" / "PG_VERSION").exists():
            return
        self.log(f"Creating the PostgreSQL data folder {pg / 'data'}")
        as_user = {"user": POSTGRES_USER, "group": POSTGRES_USER, "extra_groups": []} if os.geteuid() == 0 else {}
        subprocess.run(
            [
                *(postgres_binary("initdb"), "-D", str(pg / "data"), "-U", POSTGRES_USER, "-A", "trust"),
                *("-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"),
            ],
            check=True,
            capture_output=True,
            **as_user,
        )

    def _postgres_ready(self) -> bool:
        with psycopg.connect(
            host="127.0.0.1", port=self.ports.postgres, user=POSTGRES_USER, connect_timeout=2, autocommit=True
        ) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone():
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        return True

    def _sentinel_knows_everyone(self, port: int) -> bool:
        """The Sentinel sees the primary, its replica and the two other Sentinels: it can fail over."""
        with redis.Redis(port=port, socket_timeout=1, decode_responses=True) as sentinel:
            master = sentinel.sentinel_master(MASTER_NAME)
        return master["num-slaves"] >= 1 and master["num-other-sentinels"] >= len(self.ports.sentinels) - 1

    def _start_kind(self, kind: str) -> None:
        children = [child for child in self.children.values() if child.kind == kind]
        (self.state_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.log(f"Starting {', '.join(child.name for child in children)}")
        for child in children:
            child.start()
            if kind in {"redis", "postgres"}:
                self._wait_ready(child)  # the replica needs its primary, Sentinel needs both
        for child in children:
            self._wait_ready(child)

    def _wait_ready(self, child: Child, timeout: float = START_TIMEOUT) -> None:
        try:
            wait_until(lambda: not child.running or child.ready(), timeout, f"{child.name} ready")
        except TimeoutError as error:
            raise RuntimeError(f"{error}; its log ({child.log_path}) ends with:\n{child.log_tail()}") from None
        if not child.running:
            raise RuntimeError(
                f"{child.name} exited with {child.process.returncode}; its log ({child.log_path}) ends with:\n"
                f"{child.log_tail()}"
            )


def _uid_gid(user: str) -> tuple[int, int]:
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def _redis_ready(port: int) -> bool:
    """A primary that answers, or a replica with its copy of the primary's data."""
    with redis.Redis(port=port, socket_timeout=1) as client:
        replication = client.info("replication")
    return replication["role"] == "master" or replication.get("master_link_status") == "up"


def _answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200
