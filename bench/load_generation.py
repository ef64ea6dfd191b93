"""How much load one core generates through the kit's scenario machinery, beside bare locust.

    python -m bench.load_generation [--seconds 10] [--users 20]

One cheap endpoint for every run: a static JSON file (a valid ``getCalendar`` answer) served by
nginx on loopback, or, when nginx is not installed, by a minimal Starlette app on uvicorn (the
output says which). Three runs of locust against it:

1. a bare ``FastHttpUser`` that GETs the file with no pause;
2. the kit's machinery: a `KitUser` subclass calling the same URL through ``KitUser.call``
   (operation naming, expected statuses, the run context), with the kit's hooks loaded
   (contract sampling 1 in 20, worker records), closed workload with no think time;
3. the kit's user in locust's distributed mode, with one worker and then two.

The figure per core is requests per CPU-second of the load-generating process, measured
inside it between test start and stop (so imports and start-up do not count); req/s is shown
beside it. Each configuration runs ``--repeat`` times and keeps its best run: on a shared
machine the neighbours only ever make a run slower. Prints the kit/bare ratio (the goal is at
least 0.8) and the speed-up from one worker to two. Figures only: no assertion.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
CALENDAR_PATH = "/calendar/2025"

# Both locustfiles count requests and the process's CPU time between test start and stop, and
# write them to $BENCH_OUT/<pid>.json at the end: locust's own statistics are reset on workers
# after each report, and its wall-clock figures would hide how busy the core was.
PROBE = """
import json, os, time
from locust import events

_probe = {"requests": 0}

@events.request.add_listener
def _count(**_kwargs):
    _probe["requests"] += 1

@events.test_start.add_listener
def _begin(**_kwargs):
    _probe["requests"] = 0
    _probe["cpu0"], _probe["wall0"] = time.process_time(), time.monotonic()

@events.test_stop.add_listener
def _end(environment, **_kwargs):
    if "cpu0" not in _probe or environment.runner.__class__.__name__ == "MasterRunner":
        return
    figures = {
        "requests": _probe["requests"],
        "cpu": time.process_time() - _probe["cpu0"],
        "wall": time.monotonic() - _probe["wall0"],
    }
    path = os.path.join(os.environ["BENCH_OUT"], f"{os.getpid()}.json")
    with open(path, "w") as out:
        json.dump(figures, out)
"""

BARE = (
    PROBE
    + f'''
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

class BareUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def calendar(self):
        self.client.get("{CALENDAR_PATH}", name="getCalendar")
'''
)

KIT = (
    PROBE
    + f'''
from locust import task
from conformance.load import hooks as _hooks  # the kit's sampling and records
from conformance.load.users import KitUser

class KitCalendarUser(KitUser):
    role = "visitor"

    @task
    def calendar(self):
        self.call("GET", self.ctx.urls.catalogue + "{CALENDAR_PATH}", "getCalendar", signed=False)
'''
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _calendar_file() -> bytes:
    """A getCalendar answer that keeps the contract, so sampling validates a real body."""
    calendar = json.loads((ROOT / "fixtures" / "calendar.json").read_text("utf-8"))["2025"]
    return json.dumps({"year": 2025, **calendar}, ensure_ascii=False).encode("utf-8")


def _nginx(where: Path, port: int) -> list[str] | None:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        return None
    (where / "logs").mkdir()
    config = f"""
        worker_processes 1;
        user root;
        error_log {where}/logs/error.log warn;
        pid {where}/nginx.pid;
        events {{ worker_connections 4096; }}
        http {{
            access_log off;
            default_type application/json;
            keepalive_requests 1000000;
            server {{ listen 127.0.0.1:{port}; root {where}/www; }}
        }}
    """
    (where / "nginx.conf").write_text(textwrap.dedent(config), encoding="utf-8")
    return [nginx, "-p", str(where), "-c", str(where / "nginx.conf"), "-g", "daemon off;"]


def _starlette(where: Path, port: int) -> list[str]:
    app = f"""
        from starlette.applications import Starlette
        from starlette.responses import Response
        from starlette.routing import Route
        BODY = open({str(where / "www" / "calendar" / "2025")!r}, "rb").read()
        async def calendar(request):
            return Response(BODY, media_type="application/json")
        app = Starlette(routes=[Route("{CALENDAR_PATH}", calendar)])
    """
    (where / "static_app.py").write_text(textwrap.dedent(app), encoding="utf-8")
    return [
        sys.executable, "-m", "uvicorn", "--app-dir", str(where), "static_app:app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip


class StaticServer:
    """The cheap endpoint: nginx if installed, else uvicorn; started and stopped."""

    def __init__(self, where: Path) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        (where / "www" / "calendar").mkdir(parents=True)
        (where / "www" / "calendar" / "2025").write_bytes(_calendar_file())
        command = _nginx(where, self.port)
        self.kind = "nginx (static file)" if command else "uvicorn + Starlette (static body)"
        self._command = command or _starlette(where, self.port)
        self._log = (where / "server.log").open("wb")
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> StaticServer:
        self.process = subprocess.Popen(self._command, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base_url + CALENDAR_PATH, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.__exit__()
        raise SystemExit(f"the static server did not answer: {self._command[0]}")

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self._log.close()


def _locust(
    locustfile: Path, host: str, users: int, seconds: int, out: Path, workers: int = 0
) -> dict[str, Any]:
    """One headless run; the probes' figures added up over the load-generating processes."""
    out.mkdir(parents=True)
    env = {**os.environ, "BENCH_OUT": str(out), "EGOV_LOAD_THINK": "0"}
    base = [sys.executable, "-m", "locust", "-f", str(locustfile)]
    main = [
        *base, "--headless", "--host", host, "-u", str(users), "-r", str(users),
        "-t", f"{seconds}s", "--only-summary", "--loglevel", "WARNING",
    ]  # fmt: skip
    commands = [main]
    if workers:
        port = str(_free_port())
        commands = [
            [*main, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
             "--expect-workers", str(workers)],
        ] + [
            [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", port,
             "--loglevel", "WARNING"]
        ] * workers  # fmt: skip
    log = (out / "locust.log").open("wb")
    processes = [
        subprocess.Popen(c, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        for c in commands
    ]
    try:
        for process in processes:
            process.wait(seconds + 120)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        log.close()
    parts = [json.loads(p.read_text()) for p in out.glob("*.json")]
    if not parts:
        raise SystemExit(f"locust wrote no figures; see {out / 'locust.log'}")
    requests = sum(p["requests"] for p in parts)
    cpu = sum(p["cpu"] for p in parts)
    wall = max(p["wall"] for p in parts)
    return {
        "processes": len(parts),
        "requests": requests,
        "rps": requests / wall,
        "per_cpu_second": requests / cpu if cpu else 0.0,
    }


def main() -> None:
    """Run the three comparisons and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each run (default 10)")
    parser.add_argument("--users", type=int, default=20, help="users per run (default 20)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, best kept (3)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="egov-loadgen-") as scratch:
        where = Path(scratch)
        os.chmod(where, 0o755)  # nginx reads its files from here
        (where / "bare.py").write_text(BARE, encoding="utf-8")
        (where / "kit.py").write_text(KIT, encoding="utf-8")
        with StaticServer(where / "static") as server:
            print(f"endpoint: GET {server.base_url}{CALENDAR_PATH}, served by {server.kind}")
            print(f"each run: {arguments.users} users, {arguments.seconds} s, no think time")
            configurations = (
                ("bare FastHttpUser", where / "bare.py", 0),
                ("kit KitUser.call + hooks", where / "kit.py", 0),
                ("kit, 1 worker", where / "kit.py", 1),
                ("kit, 2 workers", where / "kit.py", 2),
            )
            tries: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in configurations}
            # Interleaved, so a neighbour's burst of work hits every configuration alike.
            for attempt in range(arguments.repeat):
                for name, locustfile, workers in configurations:
                    slug = name.replace(" ", "_").replace(",", "").replace("+", "")
                    out = where / "runs" / f"{slug}-{attempt}"
                    figures = _locust(
                        locustfile,
                        server.base_url,
                        arguments.users,
                        arguments.seconds,
                        out,
                        workers,
                    )
                    tries[name].append(figures)
            runs: dict[str, dict[str, Any]] = {}
            for name, _, workers in configurations:
                key = "rps" if workers else "per_cpu_second"
                runs[name] = best = max(tries[name], key=lambda run: float(run[key]))
                print(
                    f"  {name:26} {best['requests']:8d} requests  {best['rps']:8.0f} req/s"
                    f"  {best['per_cpu_second']:8.0f} req per CPU-second"
                    f"  ({best['processes']} load process(es); best of {len(tries[name])}:"
                    f" {', '.join(f'{t[key]:.0f}' for t in tries[name])})"
                )
    bare, kit = runs["bare FastHttpUser"], runs["kit KitUser.call + hooks"]
    ratio = kit["per_cpu_second"] / bare["per_cpu_second"]
    print(f"kit / bare, requests per load-generating core: {ratio:.2f} (goal >= 0.80)")
    one, two = runs["kit, 1 worker"], runs["kit, 2 workers"]
    print(
        f"speed-up from 1 to 2 workers (req/s): {two['rps'] / one['rps']:.2f}x on "
        f"{os.cpu_count()} core(s) shared with the endpoint and the master"
    )
    # Throughput can only double with a free core per worker; what each core yields says
    # whether the workers themselves scale.
    print(
        "requests per CPU-second per worker, 2 workers over 1: "
        f"{two['per_cpu_second'] / one['per_cpu_second']:.2f}"
    )


if __name__ == "__main__":
    main()
