"""Writes bench/http/RESULTS.md and its charts from the run's results.

Usage: python report.py RESULTS.jsonl OUT_DIR MACHINE DURATION CONNECTIONS PROFILE.txt
"""

import datetime
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def ms(text):
    """wrk's latency (`812.00us`, `1.23ms`, `2.01s`) in milliseconds."""
    if not text:
        return float("nan")
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def main():
    path, out, machine, duration, connections, profile = sys.argv[1:7]
    rows = [json.loads(line) for line in open(path)]
    for r in rows:
        r["p50_ms"], r["p99_ms"] = ms(r["p50"]), ms(r["p99"])
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    engines = [e for e in dict.fromkeys(r["engine"] for r in rows) if e != "-"]

    # Throughput per workload and engine, one bar per system.
    fig, axes = plt.subplots(len(workloads), 1, figsize=(9, 2.6 * len(workloads)))
    for ax, w in zip(axes, workloads):
        these = [r for r in rows if r["workload"] == w]
        labels = [f'{r["system"]}\n{r["engine"]}' for r in these]
        ax.barh(labels, [r["rps"] for r in these], color=["#2b6cb0" if r["system"] == "stackwright" else "#a0aec0" for r in these])
        ax.set_title(w, fontsize=10)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("requests/s")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "throughput.png"), dpi=90)

    # Latency of the headline workload.
    head = [r for r in rows if r["workload"] == "pets GET by key"]
    fig, ax = plt.subplots(figsize=(9, 4))
    labels = [f'{r["system"]} / {r["engine"]}' for r in head]
    y = range(len(head))
    ax.barh([i + 0.2 for i in y], [r["p50_ms"] for r in head], height=0.4, label="p50")
    ax.barh([i - 0.2 for i in y], [r["p99_ms"] for r in head], height=0.4, label="p99")
    ax.set_yticks(list(y), labels, fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log scale)")
    ax.set_title(f"pets GET by key: latency at {connections} connections")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "latency.png"), dpi=90)

    def find(workload, system, engine):
        for r in rows:
            if r["workload"] == workload and r["system"].startswith(system) and r["engine"] == engine:
                return r
        return None

    lines = [
        "# HTTP benchmark: the request path",
        "",
        f"`bash bench/http/run` on {datetime.date.today()}: {machine}.",
        f"Each measurement: wrk, 2 threads, {connections} connections, {duration} s after a 2 s warm-up,",
        "on 127.0.0.1; peak RSS is the server's VmHWM (all processes of gunicorn and uvicorn",
        "added up). Release build. Flask runs under gunicorn with 2 x cores + 1 sync workers,",
        "FastAPI under uvicorn with one worker per core, both with a connection per worker or",
        "thread (bench/http/python/apps.py); stackwright as `stackwright up`. Request logging is",
        "off for all three (gunicorn's default, uvicorn `--no-access-log`, `STACKWRIGHT_LOG=warn`).",
        "All systems read the same database, migrated and seeded by stackwright.",
        "",
        "![throughput](throughput.png)",
        "",
        "![latency](latency.png)",
        "",
    ]
    for w in workloads:
        lines += [f"## {w}", "", "| System | Engine | req/s | p50 | p99 | peak RSS (MiB) | errors |", "|:---|:---|---:|---:|---:|---:|:---|"]
        for r in rows:
            if r["workload"] == w:
                lines.append(f'| {r["system"]} | {r["engine"]} | {r["rps"]:.0f} | {r["p50"]} | {r["p99"]} | {r["rss_mib"]} | {r["errors"] or ""} |')
        lines.append("")

    sw, ceil = find("pets GET by key", "stackwright", "sqlite"), find("pets GET by key", "axum", "-")
    flask, fast = find("pets GET by key", "Flask", "sqlite"), find("pets GET by key", "FastAPI", "sqlite")
    lines += ["## Targets (pets GET by key, SQLite)", "", "| Target | Measured | |", "|:---|---:|:---|"]
    checks = []
    if sw and ceil:
        checks.append(("at least 60% of the constant-body ceiling", f'{100 * sw["rps"] / ceil["rps"]:.0f}%', sw["rps"] >= 0.6 * ceil["rps"]))
    if sw and flask:
        checks.append(("at least 10x Flask + gunicorn", f'{sw["rps"] / flask["rps"]:.1f}x', sw["rps"] >= 10 * flask["rps"]))
    if sw and fast:
        checks.append(("at least 3x FastAPI + uvicorn", f'{sw["rps"] / fast["rps"]:.1f}x', sw["rps"] >= 3 * fast["rps"]))
    if sw:
        checks.append((f"p99 under 10 ms at {connections} connections", sw["p99"], sw["p99_ms"] < 10))
        checks.append(("peak RSS under 64 MB", f'{sw["rss_mib"]} MiB', sw["rss_mib"] < 64))
    for what, value, ok in checks:
        lines.append(f"| {what} | {value} | {'met' if ok else '**missed**'} |")
    lines.append("")

    # The database path: stackwright against the same routes written by hand
    # (bench/http/dbceiling), workload by workload, and the large list
    # against Flask.
    lines += ["## Targets: the database path", "", "| Workload | Engine | stackwright | hand-written | share | large list vs Flask |", "|:---|:---|---:|---:|---:|---:|"]
    for w in ["pets GET by key", "todo list, 3 rows", "todo list, 1000 rows", "todo create"]:
        for engine in ["sqlite", "postgres"]:
            sw, hand = find(w, "stackwright", engine), find(w, "axum + ", engine)
            if not (sw and hand):
                continue
            share = sw["rps"] / hand["rps"]
            versus = ""
            if w == "todo list, 1000 rows":
                flask = find(w, "Flask", engine)
                if flask:
                    ratio = sw["rps"] / flask["rps"]
                    versus = f"{ratio:.1f}x ({'met' if ratio >= 8 else '**missed**'}: at least 8x)"
            lines.append(f'| {w} | {engine} | {sw["rps"]:.0f} | {hand["rps"]:.0f} | {100 * share:.0f}% ({"met" if share >= 0.8 else "**missed**"}: at least 80%) | {versus} |')
    lines.append("")
    analysis = os.path.join(out, "ANALYSIS.md")
    if os.path.exists(analysis):
        lines += [open(analysis).read().strip(), ""]
    if os.path.exists(profile) and os.path.getsize(profile) > 0:
        lines += [
            "## Where stackwright's time goes (pets GET by key, SQLite)",
            "",
            "`perf record -g` on the server under the same load (this run), the symbols over 2%:",
            "",
            "```",
            *[l.rstrip() for l in open(profile)],
            "```",
            "",
        ]
    with open(os.path.join(out, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
