"""``benchmarks/bench.py --quick`` runs in seconds and writes a result of the documented shape.

A smoke run only (small workloads, no peers): no figure is judged here, only
that every client ranked every passage, in the requests it should have sent,
and that the result, its table and its targets are written. Then the two
stand-ins: where a C compiler is, benchmarks/standin_nim.c is built and must
answer every request byte for byte as benchmarks/standin_nim.py does.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench.py"
SUMMARY_KEYS = {
    "wall_median",
    "wall_min",
    "wall_max",
    "cpu_median",
    "cpu_per_passage_us",
    "rss_peak_above_base_bytes",
    "requests",
    "connections",
    "server_cpu_median",
    "server_bound",
}


def test_quick_bench_writes_its_result(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (result_path,) = tmp_path.glob("*-quick.json")
    result = json.loads(result_path.read_text())
    assert result["machine"]["cpus"] >= 1
    assert result["settings"]["quick"] is True
    clients = set(result["settings"]["clients"])
    assert {"port-sync-default", "port-sync-all", "port-async-default", "port-async-all"} <= clients
    assert "cli" in clients
    assert {"floor-httpx", "floor-socket"} <= clients
    for cell in result["cells"]:
        assert set(cell["summary"]) >= SUMMARY_KEYS
        assert len(cell["reps"]) == result["settings"]["reps"]
        chunks = -(-cell["passages"] // 512)
        for rep in cell["reps"]:
            assert rep["scores"] == cell["passages"]
            assert rep["requests"] == chunks, (cell["client"], rep)
            assert rep["wall"] > 0 and rep["cpu"] > 0
    sizes = {cell["passages"] for cell in result["cells"]}
    assert sizes == {*result["settings"]["workloads"], result["settings"]["big_workload"]}
    machine = result["machine"]
    assert len(machine["load_average_start"]) == 3 and len(machine["load_average_end"]) == 3
    assert machine["command"][-1].endswith("/tmp") or "--quick" in machine["command"]
    # Every one of the nine targets has a row: measured, or "not measured" with why.
    numbers = {row["number"] for row in result["targets"]}
    assert numbers == {1, 3, 4, 5, 6, 7, 8, 9}  # 2 is the floor itself, a client of every run
    for row in result["targets"]:
        if row["value"] is None:
            assert row["met"] is None and row["why"]
        else:
            assert row["met"] in (True, False)
    measured = {row["number"] for row in result["targets"] if row["value"] is not None}
    assert {6, 7, 8} <= measured  # start-up, bulk, the emulator (the stand-in: under 5 ticks)
    assert result["bulk"]["identical_output"] is True
    assert {run["kind"] for run in result["bulk"]["runs"]} == {"port", "floor"}
    stand_in = [c for c in result["cells"] if c["client"] == "floor-socket"]
    for cell in stand_in:  # the server counted every passage it scored
        assert all(rep["server_passages"] == cell["passages"] for rep in cell["reps"])
    table = result_path.with_suffix(".md").read_text()
    assert table.startswith("Command: ")
    assert "load average" in table
    assert "| # | target | measured | limit | met |" in table
    assert "| passages | client |" in table
    assert result["settings"]["standin"] == ("c" if shutil.which("cc") else "python")
    assert (
        result["settings"]["server"]
        == f"benchmarks/standin_nim.{'c' if shutil.which('cc') else 'py'}"
    )


# The two stand-ins: the C one (built when a compiler is there) answers as the Python one does.

STANDINS = BENCH.parent


def _start(command: list[str], latency_ms: float) -> tuple[subprocess.Popen[str], str, int]:
    process = subprocess.Popen(
        [*command, "--latency-ms", str(latency_ms)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    url = process.stdout.readline().split()[-1]
    host, port = url.removeprefix("http://").split(":")
    assert host == "127.0.0.1"
    return process, host, int(port)


@pytest.fixture(scope="module")
def standins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, int]]]:
    """Both stand-ins on 127.0.0.1 at 0 ms: {"c": (host, port), "python": (host, port)}."""
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (cc): the benchmark runs the Python stand-in")
    binary = tmp_path_factory.mktemp("standin") / "standin_nim"
    subprocess.run(
        [cc, "-O2", "-Wall", "-Werror", "-o", str(binary), str(STANDINS / "standin_nim.c")],
        check=True,
    )
    started = [
        _start([str(binary)], 0),
        _start([sys.executable, str(STANDINS / "standin_nim.py")], 0),
    ]
    try:
        yield {"c": started[0][1:], "python": started[1][1:]}
    finally:
        for process, _, _ in started:
            process.terminate()
            process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()


def _ask(
    address: tuple[str, int], method: str, target: str, body: bytes = b""
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(*address, timeout=30)
    try:
        connection.request(method, target, body=body, headers={"Content-Type": "application/json"})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


TEXTS = [
    "alpha",
    "",
    'a "quoted" word and a back\\slash',
    "two\nlines\tand a tab",
    "ünïcødé, a line separator \u2028 and ✓",
    "x" * 3000,
    *(f"passage {i}: " + "the quick brown fox " * (i % 13) for i in range(1500)),
]


def _body(query: Any, texts: list[str], compact: bool, query_first: bool = True) -> bytes:
    items = {"passages": [{"text": t} for t in texts]}
    request = {"model": "m", "query": query, **items} if query_first else {**items, "query": query}
    if compact:  # the port's spelling: compact, non-ASCII as UTF-8
        return json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode()
    return json.dumps(request).encode()  # the peers' (requests'): spaced, \u escapes


BODIES = {
    "compact": _body({"text": "what is a fox?"}, TEXTS, compact=True),
    "spaced": _body({"text": "what is a fox?"}, TEXTS, compact=False),
    "query as a string, after the passages": _body('a "q"', TEXTS[:9], False, query_first=False),
    "one passage": _body({"text": "q"}, ["only"], compact=True),
    "no passages": _body({"text": "q"}, [], compact=True),
    "empty body": b"",
}


def _expected(body: bytes) -> bytes:
    """The documented rule, computed here from a compact body: CRC-32 of each passage as sent
    XOR the query's, highest first (input order on ties), logit from the key's top 16 bits."""
    request = json.loads(body)
    encode = lambda s: json.dumps(s, ensure_ascii=False)[1:-1].encode()  # noqa: E731
    seed = zlib.crc32(encode(request["query"]["text"]))
    keys = [zlib.crc32(encode(p["text"])) ^ seed for p in request["passages"]]
    order = sorted(range(len(keys)), key=lambda i: -keys[i])
    logit = lambda key: ((key >> 16) - 32768) / 3276.8  # noqa: E731
    pieces = ",".join(f'{{"index":{i},"logit":{logit(keys[i]):.5f}}}' for i in order)
    return ('{"rankings":[' + pieces + "]}").encode()


@pytest.mark.parametrize("name", sorted(BODIES))
def test_c_standin_answers_as_the_python_one(
    standins: dict[str, tuple[str, int]], name: str
) -> None:
    body = BODIES[name]
    c, python = (_ask(standins[kind], "POST", "/v1/ranking", body) for kind in ("c", "python"))
    assert c == python
    status, payload = c
    assert status == 200
    rankings = json.loads(payload)["rankings"]
    count = len(json.loads(body)["passages"]) if body else 0
    assert sorted(r["index"] for r in rankings) == list(range(count))
    logits = [r["logit"] for r in rankings]
    assert logits == sorted(logits, reverse=True)
    if name in ("compact", "one passage"):
        assert payload == _expected(body)


def test_c_standin_control_routes_and_models(standins: dict[str, tuple[str, int]]) -> None:
    c, python = standins["c"], standins["python"]
    before = json.loads(_ask(c, "GET", "/_stats")[1])
    assert _ask(c, "GET", "/v1/models") == _ask(python, "GET", "/v1/models")
    _ask(c, "POST", "/v1/retrieval/nvidia/reranking", BODIES["compact"])
    _ask(c, "POST", "/anything/ranking", BODIES["one passage"])
    status, payload = _ask(c, "GET", "/_stats")
    stats = json.loads(payload)
    assert status == 200
    assert set(stats) == {"requests", "connections", "passages", "cpu", "parser"}
    assert stats["parser"] == "hand-written (C)"
    assert stats["requests"] - before["requests"] == 3  # the models listing counts
    assert stats["connections"] - before["connections"] == 3
    assert stats["passages"] - before["passages"] == len(TEXTS) + 1
    assert 0 < before["cpu"] < stats["cpu"] < 60
    assert _ask(c, "GET", "/_latency?ms=150") == (200, b'{"ok":true}')
    started = time.perf_counter()
    assert _ask(c, "POST", "/v1/ranking", BODIES["one passage"])[0] == 200
    assert time.perf_counter() - started >= 0.14  # the latency is applied before answering
    assert _ask(c, "GET", "/_latency?ms=0")[0] == 200
    after = json.loads(_ask(c, "GET", "/_stats")[1])
    assert after["requests"] - stats["requests"] == 1  # the control routes are not counted


def test_c_standin_waits_concurrently_and_keeps_order(standins: dict[str, tuple[str, int]]) -> None:
    host, port = standins["c"]
    assert _ask((host, port), "GET", "/_latency?ms=400")[0] == 200
    sockets = [socket.create_connection((host, port)) for _ in range(8)]
    body = BODIES["one passage"]
    request = b"POST /v1/ranking HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    started = time.perf_counter()
    for s in sockets:  # eight requests in flight, and two pipelined on the first connection
        s.sendall(request * (2 if s is sockets[0] else 1))
    answers = [_read_answers(s, 2 if s is sockets[0] else 1) for s in sockets]
    elapsed = time.perf_counter() - started
    for s in sockets:
        s.close()
    assert _ask((host, port), "GET", "/_latency?ms=0")[0] == 200
    assert all(a == [_expected(body)] * len(a) for a in answers)
    assert 0.38 <= elapsed < 2.0  # nine requests of 400 ms each: waited together, not in turn


def _read_answers(sock: socket.socket, count: int) -> list[bytes]:
    data, payloads = b"", []
    while len(payloads) < count:
        head, separator, rest = data.partition(b"\r\n\r\n")
        if separator:
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(rest) >= length:
                payloads.append(rest[:length])
                data = rest[length:]
                continue
        chunk = sock.recv(65536)
        assert chunk, "the stand-in closed the connection"
        data += chunk
    return payloads


def test_c_standin_refuses_what_it_does_not_read(standins: dict[str, tuple[str, int]]) -> None:
    host, port = standins["c"]
    with socket.create_connection((host, port)) as s:
        s.sendall(b"POST /v1/ranking HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        answer = s.recv(65536)
        assert answer.startswith(b"HTTP/1.1 400 ")
        assert b"Content-Length" in answer
    status, payload = _ask((host, port), "POST", "/v1/ranking", b'{"documents": ["a"]}')
    assert status == 400 and b"--standin python" in payload
