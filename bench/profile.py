"""Profile one contender's route under load: ``python -m bench.profile KEY ROUTE``.

Starts a redis-server and the contender's server (as ``make bench`` does), drives the
route with wrk (or the Python generator), samples the server process with py-spy, and
prints where its time goes: the largest self-time frames and the share of the request
spent in each layer. The analysis in RESULTS.md quotes such runs.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench._contenders import BY_KEY, AppServer
from bench._http import LoadGenerator
from tests.support.servers import RedisServer

LAYERS = (
    "redis_session_sets/", "starsessions/", "flask_session/", "redis/", "starlette/",
    "flask/", "uvicorn/", "gunicorn/", "httptools", "h11/", "json/", "itsdangerous/",
    "_SelectorSocketTransport.write", "pack_command",
)  # fmt: skip


def summarize(raw: Path, top: int) -> str:
    total = 0
    own: collections.Counter[str] = collections.Counter()
    layers: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        frames = stack.split(";")
        own[frames[-1]] += samples
        for layer in {layer for frame in frames for layer in LAYERS if layer in frame}:
            layers[layer] += samples
    if not total:
        return "no samples"
    lines = [f"{total} samples", "share of samples with the layer on the stack:"]
    lines += [f"  {count / total:6.1%}  {name}" for name, count in layers.most_common()]
    lines.append("largest self time:")
    lines += [f"  {count / total:6.1%}  {frame[:140]}" for frame, count in own.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("contender", choices=sorted(BY_KEY))
    parser.add_argument("route", choices=["/read", "/write", "/plain"])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    redis_server = RedisServer()
    redis_server.start()
    server = AppServer(BY_KEY[args.contender], redis_server.url)
    try:
        server.wait_ready()
        cookie = server.seed()
        method = "GET" if args.route != "/write" else "POST"
        generator = LoadGenerator(16)
        load = threading.Thread(
            target=generator.run,
            args=(server.port, method, args.route, cookie, args.seconds + 2),
        )
        load.start()
        raw = Path(tempfile.mkdtemp(prefix="rss-profile-")) / "stacks.txt"
        subprocess.run(
            [py_spy, "record", "-p", str(server.process.pid), "-d", str(args.seconds),
             "-r", "200", "--format", "raw", "-o", str(raw)],
            check=True, capture_output=True,
        )  # fmt: skip
        load.join()
        print(f"{args.contender} {args.route} ({generator.name})")
        print(summarize(raw, args.top))
        shutil.rmtree(raw.parent, ignore_errors=True)
    finally:
        server.stop()
        redis_server.close()


if __name__ == "__main__":
    main()
