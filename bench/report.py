"""Tables for the terminal and the JSON file: per server, per scenario, and our/peer ratios against the goal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.load import Measure

GOAL_RATIO = 2.0  # at least twice the peer's requests/s, with a lower p99


def as_json(results: Mapping[str, Measure]) -> dict[str, dict[str, float]]:
    return {name: {"rps": round(m.rps, 1), "p50_ms": round(m.p50_ms, 2), "p99_ms": round(m.p99_ms, 2),
                   "errors": m.errors, "requests": m.requests} for name, m in results.items()}


def table(title: str, results: Mapping[str, Measure]) -> str:
    lines = [f"\n{title}", f"  {'scenario':12} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"]
    for name, m in results.items():
        lines.append(f"  {name:12} {m.rps:9.0f} {m.p50_ms:8.1f} {m.p99_ms:8.1f} {m.errors:7d}")
    return "\n".join(lines)


def ratios(ours: Mapping[str, Measure], peer: Mapping[str, Measure]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, mine in ours.items():
        theirs = peer.get(name)
        if theirs is None or not theirs.rps or not theirs.p99_ms:
            continue
        x = mine.rps / theirs.rps
        p99 = mine.p99_ms / theirs.p99_ms
        out[name] = {"throughput_x": round(x, 2), "p99_ours_over_peer": round(p99, 2),
                     "meets_goal": x >= GOAL_RATIO and p99 < 1.0}
    return out


def ratio_table(rows: Mapping[str, Mapping[str, Any]]) -> str:
    lines = [f"\n  {'scenario':12} {'req/s x':>8} {'p99 ours/peer':>14}  goal (>= {GOAL_RATIO}x, lower p99)"]
    for name, r in rows.items():
        lines.append(f"  {name:12} {r['throughput_x']:8.2f} {r['p99_ours_over_peer']:14.2f}  "
                     f"{'met' if r['meets_goal'] else 'MISSED'}")
    return "\n".join(lines)
