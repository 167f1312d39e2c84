"""The running cluster (`make cluster`) behaves as one store: a sign-in on one host is valid on the other, rate
limits count across both, each host is a process tree of its own in its own network namespace, and nginx
spreads requests over them. Skipped unless a cluster is up; FLAGSHIP_CLUSTER=1 (CI) makes a missing one fail.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess

import pytest
import requests

from tests.load.run import LOAD_PASSWORD, ensure_accounts
from tests.system import cluster as cl

pytestmark = pytest.mark.slow

# A shopper made for the cluster (the published demo accounts sign in only where demo mode is unlocked).
SHOPPER = ("load-0001@flagship.test", LOAD_PASSWORD)


@pytest.fixture(scope="module")
def cluster() -> cl.Cluster:
    if not cl.STATE_FILE.exists():
        if os.environ.get("FLAGSHIP_CLUSTER"):
            pytest.fail("FLAGSHIP_CLUSTER is set but no cluster is running (make cluster)")
        pytest.skip("no cluster running (make cluster)")
    found = cl.Cluster.load()
    assert len(found.hosts) >= 2
    ensure_accounts(found.database_url, 1)
    return found


def host_url(host: cl.Host, path: str) -> str:
    return f"http://{host.upstream}{path}"


def client_headers(address: str, cookie: str = "") -> dict[str, str]:
    """What nginx would pass: the client's address in X-Forwarded-For (the hosts trust one proxy hop)."""
    headers = {"X-Forwarded-For": address, "User-Agent": "cluster-test"}
    if cookie:
        headers["Cookie"] = cookie
    return headers


def session_cookie(response: requests.Response) -> str:
    value = response.cookies.get("session")
    assert value, f"no session cookie from {response.url}"
    return f"session={value}"


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def test_a_sign_in_on_one_host_is_valid_on_the_other(cluster):
    first, second = cluster.hosts[0], cluster.hosts[1]
    address = f"198.51.100.{secrets.randbelow(200) + 1}"
    form = requests.get(host_url(first, "/account/login"), headers=client_headers(address), timeout=10)
    signed_in = requests.post(
        host_url(first, "/account/login"), allow_redirects=False, timeout=10,
        headers=client_headers(address, session_cookie(form)),
        data={"email": SHOPPER[0], "password": SHOPPER[1], "csrf_token": csrf_token(form.text)},
    )
    assert signed_in.status_code == 302, signed_in.text[:500]
    cookie = session_cookie(signed_in)

    mine = requests.get(host_url(second, "/reservations/mine"), headers=client_headers(address, cookie),
                        allow_redirects=False, timeout=10)
    assert mine.status_code == 200  # the other host knows the shopper from the signed cookie alone
    anonymous = requests.get(host_url(second, "/reservations/mine"), headers=client_headers(address),
                             allow_redirects=False, timeout=10)
    assert anonymous.status_code == 302 and "/account/login" in anonymous.headers["Location"]


def test_rate_limits_count_across_hosts(cluster):
    """Sign-in allows 10 posts a minute per address: 5 on each host use it up, the 11th is refused on either."""
    first, second = cluster.hosts[0], cluster.hosts[1]
    address = f"203.0.113.{secrets.randbelow(200) + 1}"
    form = requests.get(host_url(first, "/account/login"), headers=client_headers(address), timeout=10)
    cookie, token = session_cookie(form), csrf_token(form.text)
    statuses = []
    for attempt in range(12):
        host = (first, second)[attempt % 2]
        response = requests.post(
            host_url(host, "/account/login"), allow_redirects=False, timeout=10,
            headers=client_headers(address, cookie),
            data={"email": f"nobody-{secrets.token_hex(4)}@example.com", "password": "wrong-password-123",
                  "csrf_token": token},
        )
        statuses.append(response.status_code)
    assert statuses[:10] == [200] * 10  # the form again, with "wrong email or password"
    assert statuses[10:] == [429, 429]


def test_each_host_is_its_own_namespace_and_process_tree(cluster):
    if cluster.mode != "netns":
        pytest.skip("namespaces refused on this machine: loopback fallback")
    namespaces = set()
    for host in cluster.hosts:
        found = subprocess.run(["ip", "netns", "identify", str(host.pid)], capture_output=True, text=True,
                               check=True).stdout.strip()
        assert found == host.namespace
        namespaces.add(found)
        assert cl.worker_pids(host), f"host {host.number} has no workers"
    assert len(namespaces) == len(cluster.hosts)
    assert len({h.address for h in cluster.hosts}) == len(cluster.hosts)


def test_nginx_spreads_requests_over_every_host(cluster):
    log = cl.STATE_DIR / "nginx-access.log"
    before = len(log.read_text().splitlines())
    for _ in range(8):
        response = requests.get(f"http://{cl.PROXY[0]}:{cl.PROXY[1]}/readyz", timeout=10)  # /healthz is not logged
        assert response.status_code == 200 and "Set-Cookie" not in response.headers
    used = {line.split(" up=")[1].split()[0] for line in log.read_text().splitlines()[before:] if " up=" in line}
    assert used == {h.upstream for h in cluster.hosts if not h.drained}
