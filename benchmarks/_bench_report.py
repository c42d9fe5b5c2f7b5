"""What benchmarks/bench.py makes of its measurements: summaries, ratios, targets, table, plot.

Python only, benchmark plumbing, stdlib only (matplotlib only for the plot,
imported when one is drawn). ``python benchmarks/_bench_report.py RESULT.json
[PLOT.png]`` prints the Markdown of a saved result and, given a path, draws
its plot (run it where matplotlib is installed: the peers' venv).
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
from typing import Any

PORT_ALL = "port-sync-all"
FLOOR = "floor-socket"
PEER_DEFAULTS = ("langchain-default", "llamaindex-default", "haystack-default")
PEERS_WITHIN_512 = ("langchain-512", "llamaindex-512")  # Haystack sends everything at once

LABELS = {
    "port-sync-default": "port `Client`, Go's defaults (NumCPU in flight)",
    "port-sync-all": "port `Client`, every chunk in flight",
    "port-async-default": "port `AsyncClient`, Go's defaults (NumCPU in flight)",
    "port-async-all": "port `AsyncClient`, every chunk in flight",
    "cli": "port CLI `rerank`, end to end",
    "floor-httpx": "floor: plain httpx, all in flight",
    "floor-socket": "floor: raw asyncio sockets, all in flight",
    "langchain-default": "LangChain `NVIDIARerank`, defaults",
    "langchain-512": "LangChain, `max_batch_size=512`",
    "llamaindex-default": "LlamaIndex `NVIDIARerank`, defaults",
    "llamaindex-512": "LlamaIndex, `max_batch_size=512`",
    "haystack-default": "Haystack `NvidiaRanker`, defaults",
}


def summary(reps: list[dict[str, Any]], passages: int, first: dict[str, Any]) -> dict[str, Any]:
    """Median and spread of one cell's repetitions; memory from the first call of its size."""
    walls = [r["wall"] for r in reps]
    cpus = [r["cpu"] for r in reps]
    if "child_peak_kib" in first:  # the CLI: its own process, from nothing
        above = first["child_peak_kib"] * 1024
    else:
        above = max(first["rss_peak_kib"] - first["rss_base_kib"], 0) * 1024
    server = [r["server_cpu"] for r in reps]
    cpu = statistics.median(cpus)
    wall = statistics.median(walls)
    return {
        "wall_median": wall,
        "wall_min": min(walls),
        "wall_max": max(walls),
        "cpu_median": cpu,
        "cpu_per_passage_us": cpu / passages * 1e6,
        "rss_peak_above_base_bytes": above,
        "rss_peak_bytes": max(r["rss_peak_kib"] for r in reps) * 1024,
        "requests": statistics.median(r["requests"] for r in reps),
        "connections": statistics.median(r["connections"] for r in reps),
        "server_cpu_median": statistics.median(server),
        "server_cpu_per_passage_us": statistics.median(server) / passages * 1e6,
        "server_bound": statistics.median(server) >= 0.8 * wall,
    }


def paired(  # noqa: PLR0917
    cells: dict[tuple[str, int, float], Any],
    client: str,
    other: str,
    key: str,
    passages: int,
    latency: float,
) -> float | None:
    """The median of ``client``'s value over ``other``'s, repetition by repetition."""
    mine = cells.get((client, passages, latency))
    theirs = cells.get((other, passages, latency))
    if mine is None or theirs is None:
        return None
    ratios = [
        a[key] / b[key] for a, b in zip(mine["reps"], theirs["reps"], strict=True) if b[key] > 0
    ]
    return statistics.median(ratios) if ratios else None


def index(result: dict[str, Any]) -> dict[tuple[str, int, float], Any]:
    return {(c["client"], c["passages"], c["latency_ms"]): c for c in result["cells"]}


SYNC, ASYNC = ("port-sync-default", "port-sync-all"), ("port-async-default", "port-async-all")
BULK_LIMITS = {"rows": 0.7, "cpu": 2.0, "monotone": 0.95}


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The nine targets, each measured, its limit, met; or "not measured" and why."""
    cells = index(result)
    latency = result["settings"]["latency_ms"]
    big = result["settings"].get("big_workload")
    rows: list[dict[str, Any]] = []

    def add(  # noqa: PLR0917
        number: int,
        name: str,
        value: float | None,
        limit: float,
        better: str = "le",
        unit: str = "×",
        why: str = "",
    ) -> None:
        row: dict[str, Any] = {
            "number": number,
            "target": name,
            "value": value,
            "limit": limit,
            "unit": unit,
            "better": better,
            "met": None,
        }
        if value is None:
            row["why"] = why or "not in this run"
        else:
            row["met"] = value <= limit if better == "le" else value >= limit
        rows.append(row)

    def cell_at(client: str, n: int) -> Any:
        return cells.get((client, n, 0.0 if n == big else latency)) or cells.get(
            (client, n, latency)
        )

    # 1. The stand-in spends at most half the floor's CPU per passage, in the floor's own cells.
    # Both stand-ins read their CPU from CLOCK_PROCESS_CPUTIME_ID (nanoseconds); results from
    # before ("standin" not recorded) read os.times, in 10 ms ticks.
    precise = "standin" in result["settings"]
    least = 0.002 if precise else 0.05
    kind = {"c": "C stand-in", "python": "Python stand-in"}.get(
        result["settings"].get("standin", ""), "stand-in"
    )
    for n in sorted({c["passages"] for c in result["cells"] if c["client"] == FLOOR}):
        cell = cell_at(FLOOR, n)
        ratios = [r["server_cpu"] / r["cpu"] for r in cell["reps"] if r["cpu"] > 0]
        server = cell["summary"]["server_cpu_median"]
        add(
            1,
            f"{kind} CPU / {FLOOR} CPU per passage, {n:,}",
            statistics.median(ratios) if ratios and server >= least else None,
            0.5,
            why=f"the server's {server * 1000:.1f} ms of CPU is under {least * 1000:g} ms"
            + ("" if precise else ", a few 10 ms clock ticks"),
        )
    # 3. Client CPU and wall against the floor.
    for n in (10_000, 100_000):
        for client, limit in (*((c, 1.5) for c in SYNC), *((c, 1.2) for c in ASYNC)):
            add(
                3,
                f"CPU, {client} / {FLOOR}, {n:,}",
                paired(cells, client, FLOOR, "cpu", n, latency),
                limit,
            )
    for n, limit in ((10_000, 1.15), (100_000, 1.2)):
        for client in ("port-sync-all", "port-async-all"):
            add(
                3,
                f"wall, {client} / {FLOOR}, {n:,}",
                paired(cells, client, FLOOR, "wall", n, latency),
                limit,
            )
    # 4. CPU per passage flat from 1 000 to 1 000 000.
    for client in (*SYNC, *ASYNC):
        per = {
            c["passages"]: c["summary"]["cpu_per_passage_us"]
            for c in result["cells"]
            if c["client"] == client and c["passages"] >= 1_000
        }
        covered = 1_000 in per and 1_000_000 in per
        add(
            4,
            f"CPU per passage, {client}: max / min, 1,000 to 1,000,000",
            max(per.values()) / min(per.values()) if covered else None,
            1.15,
            why="needs the 1,000 and 1,000,000 workloads"
            + (f" (measured: {', '.join(f'{n:,}' for n in sorted(per))})" if per else ""),
        )
    # 5. Memory.
    for client in ("port-sync-all", "port-async-all"):
        memory = cells.get((client, 100_000, latency))
        add(
            5,
            f"peak RSS above baseline / request JSON bytes, {client}, 100,000",
            memory["summary"]["rss_peak_above_base_bytes"] / memory["request_json_bytes"]
            if memory
            else None,
            2.0,
        )
    # 6. Start-up: CLI − library call − `python -c "import httpx"`, 512 passages.
    cli, lib = cells.get(("cli", 512, latency)), cells.get(("port-sync-default", 512, latency))
    extra = None
    if cli and lib and all("import_httpx_wall" in r for r in cli["reps"]):
        extra = statistics.median(
            a["wall"] - b["wall"] - a["import_httpx_wall"]
            for a, b in zip(cli["reps"], lib["reps"], strict=True)
        )
    add(6, "CLI wall − library call − `import httpx`, 512", extra, 0.100, unit="s")
    # 7. Bulk.
    bulk = result.get("bulk")
    why = "no bulk run (--bulk-rows 0)"
    best = {}
    if bulk:
        for kind in ("port", "floor"):
            mine = [r for r in bulk["runs"] if r["kind"] == kind and r["concurrency"]]
            best[kind] = max(mine, key=lambda r: r["rows_per_s"])
        why = ""
    rows_n = f"{bulk['rows']:,} rows" if bulk else "bulk"
    add(
        7,
        f"bulk rows/s, port best / floor best, {rows_n}",
        best["port"]["rows_per_s"] / best["floor"]["rows_per_s"] if best else None,
        BULK_LIMITS["rows"],
        better="ge",
        why=why,
    )
    add(
        7,
        f"bulk CPU per row, port / floor at their best, {rows_n}",
        best["port"]["cpu_per_row_us"] / best["floor"]["cpu_per_row_us"] if best else None,
        BULK_LIMITS["cpu"],
        why=why,
    )
    steps = None
    if bulk:
        line = sorted(
            (r["concurrency"], r["rows_per_s"])
            for r in bulk["runs"]
            if r["kind"] == "port" and r["concurrency"]
        )
        steps = min(b[1] / a[1] for a, b in itertools.pairwise(line)) if len(line) > 1 else None
    add(
        7,
        f"bulk, port: worst rows/s at more concurrency / at less, {rows_n}",
        steps,
        BULK_LIMITS["monotone"],
        better="ge",
        why=why,
    )
    if bulk:
        add(
            7,
            f"bulk, port and floor outputs identical at their best concurrency, {rows_n}",
            1.0 if bulk["identical_output"] else 0.0,
            1.0,
            better="ge",
            unit="",
        )
    # 8. The emulator.
    emulator = result.get("emulator")
    add(
        8,
        "emulator CPU per passage, default scoring"
        + (f", {emulator['passages']:,}" if emulator else ""),
        statistics.median(emulator["cpu_per_passage_us"]) if emulator else None,
        8.0,
        unit=" µs",
        why="--emulator-passages 0",
    )
    # 9. The peers at 512 and 100 000.
    for n in (512, 100_000):
        for peer in PEER_DEFAULTS:
            if peer == "haystack-default" and n > 512:
                continue  # it sends everything in one request: a real NIM refuses over 512
            add(
                9,
                f"wall, port-sync-default / {peer}, {n:,}",
                paired(cells, "port-sync-default", peer, "wall", n, latency),
                1.0,
                why="no peers in this run" if (peer, n, latency) not in cells else "",
            )
    fastest = [
        cells[(p, 100_000, latency)]["summary"]["wall_median"]
        for p in PEERS_WITHIN_512
        if (p, 100_000, latency) in cells
    ]
    for client in ("port-sync-all", "port-async-all"):
        port = cells.get((client, 100_000, latency))
        add(
            9,
            f"speed-up, fastest peer within 512 / {client}, 100,000",
            min(fastest) / port["summary"]["wall_median"] if fastest and port else None,
            10.0,
            better="ge",
        )
    return rows


def _fmt_bytes(value: float) -> str:
    return f"{value / 2**20:.1f} MiB"


def pivot(result: dict[str, Any]) -> str:
    """Wall time, median, one row per client, one column per workload."""
    sizes = sorted({(c["passages"], c["latency_ms"]) for c in result["cells"]})
    clients = sorted({c["client"] for c in result["cells"]}, key=list(LABELS).index)
    cells = index(result)
    head = " | ".join(f"{n:,} @ {latency:g} ms" for n, latency in sizes)
    lines = [f"| client | {head} |", "|---|" + "---|" * len(sizes)]
    for client in clients:
        row = []
        for n, latency in sizes:
            cell = cells.get((client, n, latency))
            row.append("" if cell is None else f"{cell['summary']['wall_median']:.3f} s")
        lines.append(f"| {LABELS.get(client, client)} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _figure(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.0f} ms"
    if unit == "":
        return "yes" if value else "no"
    return f"{value:.2f}{unit}"


def targets_table(result: dict[str, Any]) -> str:
    lines = ["| # | target | measured | limit | met |", "|---|---|---|---|---|"]
    for row in result["targets"]:
        sign = "≤" if row.get("better") == "le" else "≥"
        unit = row.get("unit", "×")
        limit = "yes" if unit == "" else f"{sign} {_figure(row['limit'], unit)}"
        if row["value"] is None:
            lines.append(
                f"| {row.get('number', '')} | {row['target']} "
                f"| not measured: {row.get('why', '')} | {limit} | — |"
            )
            continue
        met = "yes" if row["met"] else "**no**"
        lines.append(
            f"| {row.get('number', '')} | {row['target']} | {_figure(row['value'], unit)} "
            f"| {limit} | {met} |"
        )
    return "\n".join(lines) + "\n"


def header(result: dict[str, Any]) -> str:
    """Where and how the run was made: machine, load average, command, the stand-in."""
    m, s = result["machine"], result["settings"]
    load = m.get("load_average_start"), m.get("load_average_end")
    loads = " → ".join("/".join(f"{x:.2f}" for x in a) if a else "?" for a in load)
    served = [c for c in result["cells"] if c["client"] == FLOOR]
    stand_in = ", ".join(
        f"{c['summary']['server_cpu_per_passage_us']:.2f} µs per passage at {c['passages']:,} "
        f"(floor {c['summary']['cpu_per_passage_us']:.2f})"
        for c in served
    )
    return (
        f"Command: `{' '.join(m.get('command', []))}`; commit {m.get('commit', '')[:12]}; "
        f"{m.get('cpus')} CPUs ({m.get('cpu_model')}), Python {m.get('python')}, "
        f"{m.get('platform')}; load average (1/5/15 min) at start → end: {loads}. "
        f"Server: {s['server']}"
        + (f" (built by {s['standin_compiler']} with -O2)" if s.get("standin_compiler") else "")
        + f" (HTTP parser {s.get('server_parser', '?')}), "
        f"{s['latency_ms']:g} ms per request; its CPU in the raw-socket floor's cells: "
        f"{stand_in or 'not measured'}. Bytecode: {s.get('bytecode', '?')}.\n\n"
    )


def bulk_table(result: dict[str, Any]) -> str:
    bulk = result.get("bulk")
    if not bulk:
        return ""
    lines = [
        f"Bulk, {bulk['rows']:,} rows ({bulk['queries']:,} queries × 1,000 passages), "
        f"one run each; outputs identical at the best concurrency: "
        f"{'yes' if bulk['identical_output'] else '**no**'}.",
        "",
        "| path | queries in flight | wall | rows/s | CPU | CPU per row |",
        "|---|---|---|---|---|---|",
    ]
    for run in bulk["runs"]:
        path = "`reranker-nvidia bulk`" if run["kind"] == "port" else "bulk floor"
        lines.append(
            f"| {path} | {run['concurrency'] or 'its default'} | {run['wall']:.2f} s "
            f"| {run['rows_per_s']:,.0f} | {run['cpu']:.2f} s | {run['cpu_per_row_us']:.1f} µs |"
        )
    return "\n".join(lines) + "\n\n"


def markdown(result: dict[str, Any]) -> str:
    cells = index(result)
    lines = [
        "| passages | client | wall median (min–max) | ÷ port all in flight | client CPU "
        "| CPU/passage | peak RSS over base | requests | connections | server CPU "
        "| server CPU/passage |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in result["cells"]:
        s = cell["summary"]
        n, latency = cell["passages"], cell["latency_ms"]
        ratio = paired(cells, cell["client"], PORT_ALL, "wall", n, latency)
        bound = " (bound)" if s["server_bound"] else ""
        lines.append(
            f"| {n:,} @ {latency:g} ms | {LABELS.get(cell['client'], cell['client'])} "
            f"| {s['wall_median']:.3f} s ({s['wall_min']:.3f}–{s['wall_max']:.3f}) "
            f"| {'' if ratio is None else f'{ratio:.2f}×'} | {s['cpu_median']:.3f} s "
            f"| {s['cpu_per_passage_us']:.1f} µs | {_fmt_bytes(s['rss_peak_above_base_bytes'])} "
            f"| {s['requests']:g} | {s['connections']:g} "
            f"| {s['server_cpu_median']:.3f} s{bound} | {s['server_cpu_per_passage_us']:.2f} µs |"
        )
    emulator = result.get("emulator")
    emulator_line = (
        f"Emulator, default scoring, {emulator['passages']:,} passages: "
        + ", ".join(f"{x:.2f}" for x in emulator["cpu_per_passage_us"])
        + " µs of server CPU per passage.\n\n"
        if emulator
        else ""
    )
    return (
        header(result)
        + targets_table(result)
        + "\n"
        + "\n".join(lines)
        + "\n\n"
        + bulk_table(result)
        + emulator_line
        + pivot(result)
    )


def plot(result: dict[str, Any], path: str) -> None:
    import matplotlib  # noqa: PLC0415 - only where a plot is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, axes = plt.subplots(figsize=(9, 6))
    clients = sorted({c["client"] for c in result["cells"]}, key=list(LABELS).index)
    latency = result["settings"]["latency_ms"]
    for client in clients:
        label = LABELS.get(client, client).replace("`", "")
        style = "--" if client.startswith("floor") else "-"
        mine = [c for c in result["cells"] if c["client"] == client]
        line = sorted(
            (c["passages"], c["summary"]["wall_median"]) for c in mine if c["latency_ms"] == latency
        )
        drawn = axes.plot(
            [p[0] for p in line], [p[1] for p in line], style, marker="o", label=label
        )
        other = sorted(
            (c["passages"], c["summary"]["wall_median"]) for c in mine if c["latency_ms"] != latency
        )
        if other:  # the 0 ms workload: its own marker, not joined to the line
            axes.plot(
                [p[0] for p in other],
                [p[1] for p in other],
                marker="D",
                linestyle="none",
                markerfacecolor="none",
                color=drawn[0].get_color(),
            )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("passages")
    axes.set_ylabel("wall time, median (s)")
    big = result["settings"].get("big_workload")
    title = f"rerank wall time, {latency:g} ms per request"
    axes.set_title(title + (f" (hollow diamonds: {big:,} at 0 ms)" if big else ""))
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        saved = json.load(handle)
    if len(sys.argv) > 2:
        plot(saved, sys.argv[2])
    else:
        print(markdown(saved))
