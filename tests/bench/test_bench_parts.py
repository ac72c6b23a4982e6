"""Unit tests of the benchmark suite's parts that need no servers."""

from __future__ import annotations

import pytest

from bench._contenders import cookie_header
from bench._http import parse_wrk

pytestmark = pytest.mark.bench

# A real wrk 4.1 output (a run answered 404 on purpose, to show the error line).
WRK_OUTPUT = """\
Running 1s test @ http://127.0.0.1:18771/x
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   456.51us  760.96us   8.83ms   96.57%
    Req/Sec    11.58k     1.25k   12.72k    90.91%
  Latency Distribution
     50%  316.00us
     75%  344.00us
     90%  399.00us
     99%    4.94ms
  12667 requests in 1.10s, 1.22MB read
  Socket errors: connect 1, read 7, write 0, timeout 2
  Non-2xx or 3xx responses: 12667
Requests/sec:  11518.15
Transfer/sec:      1.11MB
"""


def test_parse_wrk_reads_rate_p99_and_errors() -> None:
    load = parse_wrk(WRK_OUTPUT)
    assert load.requests_per_second == 11518.15
    assert load.p99_ms == pytest.approx(4.94)
    assert load.requests == 12667
    # Read errors are connection closes (gunicorn's sync worker), not failures.
    assert load.errors == 12667 + 1 + 2


def test_parse_wrk_converts_microseconds() -> None:
    load = parse_wrk(WRK_OUTPUT.replace("99%    4.94ms", "99%  812.00us"))
    assert load.p99_ms == pytest.approx(0.812)


def test_parse_wrk_refuses_output_it_cannot_read() -> None:
    with pytest.raises(RuntimeError, match="cannot read"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def test_cookie_header_keeps_the_last_value_of_each_cookie() -> None:
    headers = ["session=a; Path=/; HttpOnly", "other=x", "session=b; Max-Age=60"]
    assert cookie_header(headers) == "session=b; other=x"
    assert cookie_header([]) is None
