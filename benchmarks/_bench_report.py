"""What benchmarks/bench.py makes of its measurements: summaries, ratios, targets, table, plot.

Python only, benchmark plumbing, stdlib only (matplotlib only for the plot,
imported when one is drawn). ``python benchmarks/_bench_report.py RESULT.json
[PLOT.png]`` prints the Markdown of a saved result and, given a path, draws
its plot (run it where matplotlib is installed: the peers' venv).
"""

from __future__ import annotations

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


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 11's targets, each a ratio taken within this run."""
    cells = index(result)
    latency = result["settings"]["latency_ms"]
    rows: list[dict[str, Any]] = []

    def add(
        name: str, value: float | None, limit: float, better: str = "le", unit: str = "×"
    ) -> None:
        if value is None:
            rows.append({"target": name, "value": None, "limit": limit, "met": None})
            return
        met = value <= limit if better == "le" else value >= limit
        rows.append(
            {
                "target": name,
                "value": value,
                "limit": limit,
                "met": met,
                "unit": unit,
                "better": better,
            }
        )

    for n, limit in ((10_000, 1.15), (100_000, 1.2)):
        for client in ("port-sync-all", "port-async-all"):
            add(
                f"wall, {client} / {FLOOR}, {n:,} passages",
                paired(cells, client, FLOOR, "wall", n, latency),
                limit,
            )
    for n in (10_000, 100_000):
        for client in ("port-sync-all", "port-async-all"):
            add(
                f"CPU, {client} / {FLOOR}, {n:,} passages",
                paired(cells, client, FLOOR, "cpu", n, latency),
                1.5,
            )
    add(
        "wall, port-async-all / port-sync-all, 100,000 passages",
        paired(cells, "port-async-all", "port-sync-all", "wall", 100_000, latency),
        1.0,
    )
    cli, lib = cells.get(("cli", 512, latency)), cells.get(("port-sync-default", 512, latency))
    if cli and lib:
        extra = statistics.median(
            a["wall"] - b["wall"] for a, b in zip(cli["reps"], lib["reps"], strict=True)
        )
        add("CLI wall over the library call (Go's defaults), 512 passages", extra, 0.150, unit="s")
    for peer in PEER_DEFAULTS:
        for n in result["settings"]["workloads"]:
            if (peer, n, latency) in cells:
                add(
                    f"wall, port-sync-default / {peer}, {n:,} passages",
                    paired(cells, "port-sync-default", peer, "wall", n, latency),
                    1.0,
                    unit="×",
                )
    fastest = [
        cells[(p, 100_000, latency)]["summary"]["wall_median"]
        for p in PEERS_WITHIN_512
        if (p, 100_000, latency) in cells
    ]
    port = [
        cells[(c, 100_000, latency)]["summary"]["wall_median"]
        for c in ("port-sync-all", "port-async-all")
        if (c, 100_000, latency) in cells
    ]
    add(
        "speed-up, fastest peer within 512 / port all in flight, 100,000 passages",
        min(fastest) / min(port) if fastest and port else None,
        8.0,
        better="ge",
    )
    memory = cells.get(("port-sync-all", 100_000, latency))
    if memory:
        add(
            "peak RSS above baseline / request JSON bytes, port-sync-all, 100,000",
            memory["summary"]["rss_peak_above_base_bytes"] / memory["request_json_bytes"],
            2.0,
        )
    memory = cells.get(("port-async-all", 100_000, latency))
    if memory:
        add(
            "peak RSS above baseline / request JSON bytes, port-async-all, 100,000",
            memory["summary"]["rss_peak_above_base_bytes"] / memory["request_json_bytes"],
            2.0,
        )
    served = [c for c in result["cells"] if c["passages"] >= 10_000]
    if served:
        worst = max(c["summary"]["server_cpu_per_passage_us"] for c in served)
        add(
            f"server CPU per passage (µs, {result['settings']['server']}), worst cell ≥ 10,000",
            worst,
            10.0,
            unit="µs",
        )
    for client in ("port-sync-all", "port-async-all"):
        per = [
            c["summary"]["cpu_per_passage_us"]
            for c in result["cells"]
            if c["client"] == client and c["passages"] >= 1_000
        ]
        if len(per) >= 2:
            add(
                f"scaling, {client}: max / min CPU per passage, 1,000 and up",
                max(per) / min(per),
                1.10,
            )
    return rows


def _fmt_bytes(value: float) -> str:
    return f"{value / 2**20:.1f} MiB"


def pivot(result: dict[str, Any]) -> str:
    """Wall time, median, one row per client, one column per workload; then the targets."""
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


def targets_table(result: dict[str, Any]) -> str:
    lines = ["| target | measured | limit | met |", "|---|---|---|---|"]
    for row in result["targets"]:
        if row["value"] is None:
            lines.append(f"| {row['target']} | not measured | {row['limit']:g} | — |")
            continue
        sign = "≤" if row.get("better") == "le" else "≥"
        unit = row.get("unit", "×")
        value = f"{row['value'] * 1000:.0f} ms" if unit == "s" else f"{row['value']:.2f}{unit}"
        limit = f"{row['limit'] * 1000:.0f} ms" if unit == "s" else f"{row['limit']:g}{unit}"
        met = "yes" if row["met"] else "**no**"
        lines.append(f"| {row['target']} | {value} | {sign} {limit} | {met} |")
    return "\n".join(lines) + "\n"


def markdown(result: dict[str, Any]) -> str:
    cells = index(result)
    lines = [
        "| passages | client | wall median (min–max) | ÷ port all in flight | client CPU "
        "| CPU/passage | peak RSS over base | requests | connections | server CPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
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
            f"| {s['server_cpu_median']:.3f} s{bound} |"
        )
    return "\n".join(lines) + "\n\n" + targets_table(result) + "\n" + pivot(result)


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
