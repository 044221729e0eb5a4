"""``scripts/cluster``: start the production layout on this machine until Ctrl-C or SIGTERM."""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .cluster import MASTER_NAME, ROOT, Cluster
from .ports import Ports


def say(message: str) -> None:
    print(f"\033[1m==> {message}\033[0m", file=sys.stderr, flush=True)


def summary(cluster: Cluster) -> str:
    url, ports = cluster.url, cluster.ports
    servers = ", ".join(f"{name} {cluster.server_url(name)}" for name in cluster.server_names)
    return f"""\
  Live status:     {url}/live/
  Admin:           {url}/admin/
  API docs:        {url}/api/docs/
  Realtime stats:  {url}/ws/stats (staff)
  HAProxy stats:   {cluster.haproxy_stats_url}
  Servers:         {servers} (direct, bypassing HAProxy)
  Redis:           primary 127.0.0.1:{ports.redis[0]}, replica 127.0.0.1:{ports.redis[1]}
  Sentinels:       {cluster.redis_sentinels} (master name {MASTER_NAME})
  PostgreSQL:      {cluster.database_url}
  Prometheus:      {cluster.prometheus_url} (scrapes every server and worker)
  Metrics token:   {cluster.state_dir / "metrics-token"} (Authorization: Bearer for /metrics)
  Logs:            {cluster.state_dir / "logs"}
  Watch:           {sys.executable} -m realtime.watch --url {url} --user analyst --password analyst-demo-pass
  Sign in with the demo accounts listed above."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/cluster",
        description="Start the production layout on this machine (loopback only) until Ctrl-C or SIGTERM.",
        epilog="Ports and sizes come from the environment: see docs/operations.md.",
    )
    parser.parse_args(argv)
    environ = os.environ
    try:
        servers, workers = int(environ.get("CLUSTER_SERVERS", "3")), int(environ.get("CLUSTER_WORKERS", "2"))
        ports = Ports.from_environment(environ, servers=servers, workers=workers)
    except ValueError as error:
        say(f"Error: {error}")
        return 2
    cluster = Cluster(state_dir=Path(environ.get("CLUSTER_DIR") or ROOT / "var" / "cluster"), ports=ports, log=say)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    status = 0
    try:
        cluster.start()
        print(cluster.seed_output, end="", flush=True)
        say("SecureAI Status cluster is running (Ctrl-C stops it)")
        print(summary(cluster), file=sys.stderr, flush=True)
        reported: set[str] = set()
        while True:
            for child in cluster.children.values():
                if child.process and not child.running and child.name not in reported:
                    reported.add(child.name)
                    code = child.process.returncode
                    say(f"{child.name} exited with {code}; the rest keeps running (log: {child.log_path})")
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
        say(f"Error: {error}")
        status = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("Stopping")
        cluster.stop()
        say("Stopped")
    return status


if __name__ == "__main__":
    sys.exit(main())
