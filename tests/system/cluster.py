"""A production-shaped cluster on this one machine: `make cluster` / `make cluster-stop`.

nginx on 127.0.0.1:8080 (the site file of deploy/nginx, paths and port rewritten) in front of CLUSTER_HOSTS app
hosts (default 2). Each host is its own network namespace (`ip netns`) joined to the root namespace by a veth
pair: the host side is 10.231.N.1, the app side 10.231.N.2, where gunicorn (deploy/gunicorn.conf.py) listens
on port 8000. Nothing routes anywhere else. PostgreSQL and Redis listen on 127.0.0.1 only, which a namespace
cannot reach, so a `socat` forwarder per host listens on 10.231.N.1:5432 and :6379 and connects to them; the
system PostgreSQL configuration is not touched. The hosts share nothing but PostgreSQL, Redis and the secret:
sessions are signed cookies, rate-limit counters live in Redis (under a key prefix of this cluster).

The store runs in APP_ENV=production on a throw-away database (flagship_cluster_<hex>) that `up` creates,
migrates and seeds and `down` drops. If namespaces are refused, the hosts fall back to 127.0.0.1 ports
(said on start). State (pids, addresses, logs) lives in instance/cluster/.

    python -m tests.system.cluster up|down|status
    python -m tests.system.cluster stop-host N | start-host N | kill-workers N | drain N | undrain N
    python -m tests.system.cluster rolling-restart
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = ROOT / "instance" / "cluster"
STATE_FILE = STATE_DIR / "state.json"
VENV_BIN = Path(sys.executable).parent
NET = os.environ.get("CLUSTER_NET", "10.231")  # private /30 per host, only on our own veth pairs
PROXY = ("127.0.0.1", 8080)
APP_PORT = 8000
PG_ADMIN_URL = os.environ.get("CLUSTER_PG_URL", "postgresql://127.0.0.1:5432/test")
REDIS_PORT = 6379
PG_PORT = 5432


@dataclass
class Host:
    number: int
    namespace: str  # "" in the loopback fallback
    proxy_side: str  # the address nginx and the forwarders use (root namespace)
    address: str  # where gunicorn listens
    port: int
    pid: int = 0
    forwarder_pids: list[int] = field(default_factory=list)
    drained: bool = False

    @property
    def upstream(self) -> str:
        return f"{self.address}:{self.port}"


@dataclass
class Cluster:
    database: str
    database_url: str  # from the root namespace
    secret_key: str
    workers: int
    mode: str  # "netns" or "loopback"
    hosts: list[Host]
    max_connections: int  # PostgreSQL's, read once: the hosts check their connection budget against it
    nginx_pid: int = 0

    def save(self) -> None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        STATE_FILE.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls) -> Cluster:
        if not STATE_FILE.exists():
            raise SystemExit("no cluster is running (make cluster)")
        raw = json.loads(STATE_FILE.read_text())
        raw["hosts"] = [Host(**h) for h in raw["hosts"]]
        return cls(**raw)

    def host(self, number: int) -> Host:
        return next(h for h in self.hosts if h.number == number)


def say(message: str) -> None:
    print(f"[cluster {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(*args: str, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, text=True, capture_output=True, **kwargs)


def alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


QUIET_SECONDS = 1.0  # a drained host must have no connection this long before it is stopped


def wait_for(check: Any, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def http_status(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own loopback/veth
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError):
        return 0


# --- database --------------------------------------------------------------------------------------------------


def _admin_connect() -> Any:
    """PostgreSQL is shared: when another user fills max_connections for a moment, wait (bounded) for a slot."""
    import psycopg

    deadline = time.monotonic() + 90
    while True:
        try:
            return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as error:
            if "too many clients" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(1)


def server_max_connections() -> int:
    with _admin_connect() as conn:
        row = conn.execute("SHOW max_connections").fetchone()
    return int(row[0]) if row else 100


def create_database() -> tuple[str, str]:
    name = f"flagship_cluster_{secrets.token_hex(4)}"
    with _admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str) -> None:
    with _admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def store_env(cluster: Cluster, host: Host | None = None) -> dict[str, str]:
    """The environment of an app host (or, without a host, of a command run from the root namespace)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "TEST_DATABASE"))}
    database_url, redis_url = cluster.database_url, f"redis://127.0.0.1:{REDIS_PORT}/0"
    if host is not None and host.namespace:
        database_url = database_url.replace("127.0.0.1", host.proxy_side, 1)
        redis_url = f"redis://{host.proxy_side}:{REDIS_PORT}/0"
    env.update(
        FLASK_APP="wsgi", APP_ENV="production", SECRET_KEY=cluster.secret_key, DATABASE_URL=database_url,
        REDIS_URL=redis_url, RATELIMIT_KEY_PREFIX=f"flagship-{cluster.database}",
        # The demo payment provider stands in for Stripe (production allows it only with its own switch on).
        DEMO_PAYMENTS="1",
        # Plain http on loopback: a real site terminates TLS at nginx and keeps secure cookies.
        SESSION_COOKIE_SECURE="0", PUBLIC_BASE_URL=f"http://{PROXY[0]}:{PROXY[1]}",
        TRUSTED_PROXY_COUNT="1", WEB_WORKERS=str(cluster.workers), APP_HOSTS=str(len(cluster.hosts)),
        DB_MAX_CONNECTIONS=str(cluster.max_connections), LOG_LEVEL="WARNING", MAIL_SERVER="",
        PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
    )
    if host is not None:
        env.update(BIND=host.upstream, FORWARDED_ALLOW_IPS=host.proxy_side)
    return env


def flask(cluster: Cluster, *args: str) -> str:
    for attempt in range(1, 6):  # PostgreSQL is shared: "too many clients" passes, so try again a few times
        result = run(str(VENV_BIN / "flask"), *args, env=store_env(cluster), cwd=ROOT, check=False)
        if result.returncode == 0:
            return result.stdout
        if "too many clients" not in result.stderr or attempt == 5:
            raise SystemExit(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        time.sleep(3)
    raise AssertionError("unreachable")


# --- network namespaces and forwarders ---------------------------------------------------------------------


def namespaces_work() -> bool:
    probe = f"flagship-probe-{os.getpid()}"
    if run("ip", "netns", "add", probe, check=False).returncode != 0:
        return False
    run("ip", "netns", "del", probe, check=False)
    return True


def make_hosts(count: int, mode: str) -> list[Host]:
    hosts = []
    for number in range(1, count + 1):
        if mode == "netns":
            hosts.append(Host(number, f"flagship-h{number}", f"{NET}.{number}.1", f"{NET}.{number}.2", APP_PORT))
        else:
            hosts.append(Host(number, "", "127.0.0.1", "127.0.0.1", free_port()))
    return hosts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wire_namespace(host: Host) -> None:
    ns, outside, inside = host.namespace, f"fsh{host.number}-host", f"fsh{host.number}-app"
    unwire_namespace(host)
    for command in (
        ("ip", "netns", "add", ns),
        ("ip", "link", "add", outside, "type", "veth", "peer", "name", inside),
        ("ip", "link", "set", inside, "netns", ns),
        ("ip", "addr", "add", f"{host.proxy_side}/30", "dev", outside),
        ("ip", "link", "set", outside, "up"),
        ("ip", "netns", "exec", ns, "ip", "addr", "add", f"{host.address}/30", "dev", inside),
        ("ip", "netns", "exec", ns, "ip", "link", "set", inside, "up"),
        ("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"),
    ):
        run(*command)
    for port in (PG_PORT, REDIS_PORT):
        forwarder = subprocess.Popen(
            ["socat", f"TCP-LISTEN:{port},bind={host.proxy_side},fork,reuseaddr", f"TCP:127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        host.forwarder_pids.append(forwarder.pid)


def unwire_namespace(host: Host) -> None:
    for pid in host.forwarder_pids:
        if alive(pid):
            os.kill(pid, signal.SIGTERM)
    host.forwarder_pids = []
    if host.namespace:
        run("ip", "link", "del", f"fsh{host.number}-host", check=False)  # takes its peer with it
        run("ip", "netns", "del", host.namespace, check=False)


# --- app hosts ----------------------------------------------------------------------------------------------


def start_host(cluster: Cluster, host: Host) -> None:
    spawn_host(cluster, host)
    wait_ready(cluster, host)


def spawn_host(cluster: Cluster, host: Host) -> None:
    command = [str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "wsgi:app"]
    if host.namespace:
        command = ["ip", "netns", "exec", host.namespace, *command]  # exec: the pid is gunicorn's master
    log = open(STATE_DIR / f"host{host.number}.log", "a")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen(command, env=store_env(cluster, host), cwd=ROOT, stdout=log, stderr=log,
                               start_new_session=True)
    log.close()
    host.pid = process.pid
    cluster.save()


def wait_ready(cluster: Cluster, host: Host) -> None:
    wait_for(lambda: not alive(host.pid) or http_status(f"http://{host.upstream}/readyz") == 200, timeout=120,
             what=f"host {host.number} /readyz")
    if not alive(host.pid):
        raise SystemExit(f"host {host.number} did not start; see {STATE_DIR / f'host{host.number}.log'}")
    say(f"host {host.number} ready at {host.upstream} (gunicorn pid {host.pid}, {cluster.workers} workers)")


def stop_host(cluster: Cluster, host: Host, *, timeout: float = 45) -> float:
    """SIGTERM: gunicorn stops accepting, lets requests in flight finish, exits. Returns seconds it took."""
    started = time.monotonic()
    if alive(host.pid):
        os.kill(host.pid, signal.SIGTERM)
        wait_for(lambda: not alive(host.pid), timeout=timeout, what=f"host {host.number} to stop")
    _reap(host.pid)
    return time.monotonic() - started


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def worker_pids(host: Host) -> list[int]:
    children = Path(f"/proc/{host.pid}/task/{host.pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def kill_workers(host: Host) -> list[int]:
    """SIGKILL every worker of a host (the master stays and forks new ones): a crash mid-request."""
    pids = worker_pids(host)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return pids


# --- nginx --------------------------------------------------------------------------------------------------


def render_nginx(directory: Path, listen: str) -> Path:
    """deploy/nginx/flagship.conf with its paths and port pointed into `directory`, under a main nginx.conf of
    its own there (pid, logs, temp files); the upstream lists are upstream-hosts.conf and order-hosts.conf there."""
    site = (ROOT / "deploy" / "nginx" / "flagship.conf").read_text()
    upstreams, order_pools = directory / "upstream-hosts.conf", directory / "order-hosts.conf"
    site = (site.replace("/etc/flagship/upstream-hosts.conf", str(upstreams))
                .replace("/etc/flagship/order-hosts.conf", str(order_pools))
                .replace("listen 80;", f"listen {listen};")
                .replace("listen [::]:80;\n", "")
                .replace("/srv/flagship/static/", f"{ROOT / 'static'}/"))
    for needed in (str(upstreams), str(order_pools), f"listen {listen};", str(ROOT / "static")):
        if needed not in site:
            raise SystemExit(f"deploy/nginx/flagship.conf changed shape: could not set {needed}")
    (directory / "flagship-site.conf").write_text(site)
    temp = directory / "nginx-temp"
    temp.mkdir(exist_ok=True)
    main = directory / "nginx.conf"
    main.write_text(f"""# generated by tests/system/cluster.py
user root;
worker_processes 2;
pid {directory / 'nginx.pid'};
error_log {directory / 'nginx-error.log'} warn;
events {{ worker_connections 2048; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    log_format upstreams '$msec $status $request_method "$request_uri" up=$upstream_addr '
                         'up_status=$upstream_status rt=$request_time id=$flagship_request_id';
    access_log {directory / 'nginx-access.log'} upstreams;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {directory / 'flagship-site.conf'};
}}
""")
    return main


def write_nginx_config(cluster: Cluster) -> Path:
    main = render_nginx(STATE_DIR, f"{PROXY[0]}:{PROXY[1]}")
    write_upstreams(cluster)
    return main


def write_upstreams(cluster: Cluster) -> None:
    lines = [f"server {h.upstream} max_fails=3 fail_timeout=5s{' down' if h.drained else ''};" for h in cluster.hosts]
    (STATE_DIR / "upstream-hosts.conf").write_text("\n".join(lines) + "\n")
    # The local cluster runs no separate order pools: each host's one gunicorn takes the order presses too.
    (STATE_DIR / "order-hosts.conf").write_text("\n".join(lines) + "\n")


def nginx(*args: str) -> None:
    run("nginx", "-c", str(STATE_DIR / "nginx.conf"), *args)


def start_nginx(cluster: Cluster) -> None:
    write_nginx_config(cluster)
    nginx("-t", "-q")
    nginx()
    wait_for(lambda: (STATE_DIR / "nginx.pid").exists(), timeout=10, what="nginx")
    cluster.nginx_pid = int((STATE_DIR / "nginx.pid").read_text())
    cluster.save()
    wait_for(lambda: http_status(f"http://{PROXY[0]}:{PROXY[1]}/healthz") == 200, timeout=20,
             what="nginx /healthz")
    say(f"nginx on http://{PROXY[0]}:{PROXY[1]} -> {', '.join(h.upstream for h in cluster.hosts)}")


def set_drained(cluster: Cluster, host: Host, drained: bool) -> None:
    """Take a host out of (or back into) nginx's rotation: `down` in the upstream, then a graceful reload."""
    host.drained = drained
    write_upstreams(cluster)
    nginx("-s", "reload")
    cluster.save()


def old_nginx_workers() -> bool:
    """nginx workers from before the last reload still finishing their clients' requests (old upstream list)."""
    return run("pgrep", "-f", "nginx: worker process is shutting down", check=False).returncode == 0


def open_connections(host: Host) -> int:
    """Connections to the host's gunicorn: being served, or waiting in its accept queue."""
    command = ["ss", "-Htn", "state", "established", f"( sport = :{host.port} )"]
    if host.namespace:
        command = ["ip", "netns", "exec", host.namespace, *command]
    return len(run(*command, check=False).stdout.splitlines())


def drain(cluster: Cluster, host: Host, *, timeout: float = 60) -> float:
    """Out of nginx's rotation, then wait until nothing nginx sent there is left (served or queued): only then
    can SIGTERM lose nothing, since connections still queued when the last worker exits are reset."""
    started = time.monotonic()
    set_drained(cluster, host, True)
    # `nginx -s reload` is asynchronous: until the old workers have finished with their clients' keep-alive
    # connections they still route by the old upstream list, so a request can reach the host after it first
    # looks idle. Wait until it has had no connection for a whole second.
    quiet_since: list[float] = []

    def quiet_for_a_second() -> bool:
        if open_connections(host) != 0 or old_nginx_workers():
            quiet_since.clear()
            return False
        if not quiet_since:
            quiet_since.append(time.monotonic())
        return time.monotonic() - quiet_since[0] >= QUIET_SECONDS

    wait_for(quiet_for_a_second, timeout=timeout, what=f"host {host.number} to drain")
    return time.monotonic() - started


def rolling_restart(cluster: Cluster) -> None:
    """One host at a time: out of nginx and drained, SIGTERM, start, ready, back in."""
    for host in cluster.hosts:
        drained_in = drain(cluster, host)
        took = stop_host(cluster, host)
        say(f"host {host.number} drained in {drained_in:.1f} s and stopped in {took:.1f} s")
        start_host(cluster, host)
        set_drained(cluster, host, False)
        time.sleep(1.0)


# --- up / down ------------------------------------------------------------------------------------------------


def up(host_count: int, workers: int, scale: int) -> Cluster:
    if STATE_FILE.exists():
        say("a cluster is already recorded; stopping it first")
        down()
    if PROXY[1] and _port_taken(*PROXY):
        raise SystemExit(f"{PROXY[0]}:{PROXY[1]} is already taken")
    for tool in ("nginx", "socat", "ip"):
        if shutil.which(tool) is None:
            raise SystemExit(f"`{tool}` is missing: apt-get install nginx-light socat iproute2")
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    for old in STATE_DIR.glob("*.log"):
        old.unlink()
    mode = "netns" if namespaces_work() else "loopback"
    if mode == "loopback":
        say("network namespaces are refused here: falling back to separate 127.0.0.1 ports")
    name, url = create_database()
    cluster = Cluster(database=name, database_url=url, secret_key=secrets.token_hex(32), workers=workers, mode=mode,
                      hosts=make_hosts(host_count, mode), max_connections=server_max_connections())
    cluster.save()
    say(f"database {name}: migrating and seeding")
    flask(cluster, "db", "upgrade")
    flask(cluster, "seed")
    if scale:
        flask(cluster, "catalog", "seed", "--scale", str(scale))
    for host in cluster.hosts:
        if host.namespace:
            wire_namespace(host)
            cluster.save()
    for host in cluster.hosts:  # all at once, as separate machines would boot
        spawn_host(cluster, host)
    for host in cluster.hosts:
        wait_ready(cluster, host)
    start_nginx(cluster)
    return cluster


def _port_taken(address: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((address, port)) == 0


def down() -> None:
    if not STATE_FILE.exists():
        say("no cluster recorded")
        return
    cluster = Cluster.load()
    if alive(cluster.nginx_pid):
        os.kill(cluster.nginx_pid, signal.SIGQUIT)
        wait_for(lambda: not alive(cluster.nginx_pid), timeout=20, what="nginx to stop")
    for host in cluster.hosts:
        if alive(host.pid):
            os.kill(host.pid, signal.SIGTERM)
    for host in cluster.hosts:
        deadline = time.monotonic() + 40
        while alive(host.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if alive(host.pid):
            os.killpg(host.pid, signal.SIGKILL)
        unwire_namespace(host)
    drop_database(cluster.database)
    STATE_FILE.unlink()
    say(f"stopped; database {cluster.database} dropped")


def status() -> None:
    cluster = Cluster.load()
    print(f"mode={cluster.mode} database={cluster.database} nginx={'up' if alive(cluster.nginx_pid) else 'down'}")
    for host in cluster.hosts:
        ready = http_status(f"http://{host.upstream}/readyz")
        print(f"host {host.number}: {host.upstream} pid={host.pid} alive={alive(host.pid)} readyz={ready} "
              f"workers={len(worker_pids(host))} drained={host.drained}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down", "status", "stop-host", "start-host", "kill-workers",
                                           "drain", "undrain", "rolling-restart"])
    parser.add_argument("host", nargs="?", type=int, default=1)
    parser.add_argument("--hosts", type=int, default=int(os.environ.get("CLUSTER_HOSTS", "2")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("CLUSTER_WORKERS", "2")))
    parser.add_argument("--scale", type=int, default=int(os.environ.get("CLUSTER_SCALE", "600")),
                        help="extra vehicles to seed, so a load test has cars to reserve")
    args = parser.parse_args(argv)
    if args.action == "up":
        up(args.hosts, args.workers, args.scale)
    elif args.action == "down":
        down()
    elif args.action == "status":
        status()
    else:
        cluster = Cluster.load()
        host = cluster.host(args.host)
        if args.action == "stop-host":
            say(f"host {host.number} stopped in {stop_host(cluster, host):.1f} s")
        elif args.action == "start-host":
            start_host(cluster, host)
        elif args.action == "drain":
            say(f"host {host.number} drained in {drain(cluster, host):.1f} s")
        elif args.action == "undrain":
            set_drained(cluster, host, False)
        elif args.action == "kill-workers":
            say(f"host {host.number}: SIGKILL to workers {kill_workers(host)}")
        else:
            rolling_restart(cluster)


if __name__ == "__main__":
    main()
