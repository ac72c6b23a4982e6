"""The benchmark suite's smoke run: every section on tiny sizes, so it cannot rot.

Not a performance test: it asserts only that each section produced sane figures (every
contender served every route without errors, the store figures exist, memory was
measured, delete_all deleted everything), never how fast anything was.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.__main__ import main

pytestmark = [pytest.mark.bench, pytest.mark.timeout(120)]


def test_smoke_run_of_the_whole_suite(tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    results = main(
        ["--smoke", "--output", str(output), "--json", str(tmp_path / "r.json"), "--readme", ""]
    )
    web = results["web"]
    assert set(web["table"]) == {
        "starlette_bare", "starlette_cookie", "starsessions", "ours_asgi",
        "flask_bare", "flask_session", "ours_wsgi",
    }  # fmt: skip
    for key, routes in web["table"].items():
        for path in ("/read", "/write", "/plain"):
            assert routes[path]["rps"] > 0, (key, path)
            assert routes[path]["errors"] == 0, (key, path)
    assert web["ratios"]["ours_asgi"]["starsessions"]["/read"] > 0
    for row in results["store"].values():
        assert row["ours_ops"] > 0 and row["raw_ops"] > 0
    for key in ("starsessions", "flask_session", "ours_asgi", "ours_wsgi"):
        assert results["memory"][key]["own_user"]["keys"] > 0
    ours = results["lost"]["ours_asgi"]
    assert ours["fields_kept"] == ours["of"] and ours["counter"] == ours["of"]
    assert [row["deleted"] for row in results["delete_all"]] == [100, 1000]
    cpu = results["redis_cpu"]
    assert set(cpu["usec_per_call"]) >= {"minimal_script", "set_same_reference"}
    assert all(usec > 0 for usec in cpu["usec_per_call"].values())
    text = output.read_text()
    assert "## Web" in text and "## delete_all" in text and "## Redis CPU" in text


def test_smoke_run_of_bench_concurrent(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.concurrent import main as concurrent

    concurrent(["/read", "ours_asgi", "--processes", "1", "--tasks", "2", "--requests", "5",
                "--rounds", "1"])  # fmt: skip
    figure = capsys.readouterr().out.splitlines()[-1]
    assert figure.startswith("  ours_asgi: median ") and float(figure.split()[2]) > 0
