#!/usr/bin/env python3
"""Prints the graph benchmark's table from hyperfine's JSON, GNU time's `%e %M` lines, the
graph cascade printed (`cascade graph --format json`) and the fleet's manifest.json.
Also compares the graph with what the generator put in the fleet (images, external roots,
and each image's bases when the JSON carries them). Standard library only."""

from __future__ import annotations

import argparse
import json
import statistics
import sys

GOAL_WALL_S = 1.0
GOAL_RSS_MB = 200.0
GOAL_RATIO = 1.5


def read_time_lines(path: str) -> tuple[list[float], list[float]]:
    """Wall seconds and peak RSS (MB) from GNU time's `%e %M` lines (other lines skipped)."""
    walls, rss = [], []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                try:
                    walls.append(float(parts[0]))
                    rss.append(int(parts[1]) / 1024.0)
                except ValueError:
                    pass
    return walls, rss


def ref_of(entry) -> str | None:
    """The image reference of a graph entry: a string, or an object naming it."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        for key in ("image", "reference", "ref", "name"):
            if isinstance(entry.get(key), str):
                return entry[key]
    return None


def bases_of(entry) -> list[str] | None:
    if isinstance(entry, dict):
        for key in ("bases", "base_images", "from"):
            value = entry.get(key)
            if isinstance(value, list):
                refs = [ref_of(v) for v in value]
                if all(isinstance(r, str) for r in refs):
                    return sorted(set(refs))
    return None


def differences(what: str, missing: set, extra: set) -> str:
    """'<what> differ: N missing (a, b ...), M unexpected (c ...)', empty parts left out."""
    def part(label: str, items: set) -> str:
        items = sorted(items)
        more = f" ... (+{len(items) - 5})" if len(items) > 5 else ""
        return f"{len(items)} {label} ({', '.join(items[:5])}{more})"
    parts = [part(label, items) for label, items in (("missing", missing), ("unexpected", extra)) if items]
    return f"{what} differ: " + ", ".join(parts)


def tag_key(ref: str) -> str:
    """'repo:tag@sha256:...' -> 'repo:tag'; other references unchanged."""
    name, at, _ = ref.partition("@")
    return name if at and ":" in name.rsplit("/", 1)[-1] else ref


def check_graph(graph: dict, manifest: dict) -> list[str]:
    """Lines describing how the graph compares with the generated fleet."""
    notes = []
    expected_images = {r["image"] for r in manifest["recipes"]}
    # cascade keys an external base pinned by tag and digest by its tag (README: "How a base
    # reference matches"), so the roots compare without such digests; bases keep them.
    expected_external = {tag_key(e) for e in manifest["external"]}
    images = graph.get("images")
    external = graph.get("external")
    if not isinstance(images, list) or not isinstance(external, list):
        return ['graph JSON has no "images" and "external" lists: cannot compare it with the fleet']
    image_refs = {ref_of(e) for e in images} - {None}
    external_refs = {ref_of(e) for e in external} - {None}
    produced = image_refs
    if produced != expected_images:
        notes.append(differences("images", expected_images - produced, produced - expected_images))
    if external_refs != expected_external:
        notes.append(differences("external roots", expected_external - external_refs,
                                 external_refs - expected_external))
    expected_bases = {r["image"]: r["bases"] for r in manifest["recipes"]}
    compared = wrong = 0
    examples = []
    for entry in images:
        ref, bases = ref_of(entry), bases_of(entry)
        if ref in expected_bases and bases is not None:
            compared += 1
            if bases != expected_bases[ref]:
                wrong += 1
                if len(examples) < 3:
                    examples.append(f"{ref}: got {bases}, expected {expected_bases[ref]}")
    if compared and wrong:
        notes.append(f"bases differ for {wrong} of {compared} images, e.g. " + "; ".join(examples))
    elif compared:
        notes.append(f"bases of all {compared} images match the fleet")
    expected_frontend = {r["image"]: r["frontend"] for r in manifest["recipes"]}
    frontends = [(ref_of(e), e["frontend"]) for e in images if isinstance(e, dict) and "frontend" in e]
    wrong_frontends = [f"{ref}: got {got}, expected {expected_frontend[ref]}"
                       for ref, got in frontends if ref in expected_frontend and got != expected_frontend[ref]]
    if wrong_frontends:
        notes.append(f"frontends differ for {len(wrong_frontends)} of {len(frontends)} images, e.g. "
                     + "; ".join(wrong_frontends[:3]))
    elif frontends:
        notes.append(f"frontends (# syntax=) of all {len(frontends)} images match the fleet")
    if not any("differ" in n or "cannot" in n for n in notes):
        notes.insert(0, "graph matches the fleet (images and external roots)")
    return notes


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--hyperfine", required=True)
    p.add_argument("--time-cascade", required=True)
    p.add_argument("--time-baseline", required=True)
    p.add_argument("--graph", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--out", help="also write the report here (Markdown)")
    args = p.parse_args(argv)

    with open(args.hyperfine) as f:
        results = {r["command"]: r for r in json.load(f)["results"]}
    with open(args.manifest) as f:
        manifest = json.load(f)
    with open(args.graph) as f:
        graph = json.load(f)
    cascade, baseline = results["cascade"], results["git grep baseline"]
    _, rss_cascade = read_time_lines(args.time_cascade)
    _, rss_baseline = read_time_lines(args.time_baseline)
    runs = len(cascade["times"])

    wall_c, wall_b = cascade["median"], baseline["median"]
    ratio = wall_b / wall_c if wall_c > 0 else float("inf")
    min_ratio = baseline["min"] / cascade["min"] if cascade["min"] > 0 else float("inf")
    cpu_c = cascade["user"] + cascade["system"]
    cpu_b = baseline["user"] + baseline["system"]
    peak_c = max(rss_cascade) if rss_cascade else float("nan")
    peak_b = max(rss_baseline) if rss_baseline else float("nan")
    verdict = lambda ok: "PASS" if ok else "FAIL"

    images = graph.get("images")
    external = graph.get("external")
    count = lambda v: str(len(v)) if isinstance(v, list) else "?"
    out = [
        f"fleet: {manifest['repos']} repos, {manifest['dockerfiles']} Dockerfiles, "
        f"{manifest.get('files', '?')} files, depth {manifest['max_depth']} "
        f"(generator expects {manifest['images']} images, {len(manifest['external'])} external roots)",
        f"graph: {count(images)} images, {count(external)} external roots",
    ]
    out += ["check: " + note for note in check_graph(graph, manifest)]
    out += [
        "",
        "| measure | cascade | git grep baseline | ratio | goal | result |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| wall time, median of {runs} | {wall_c:.3f} s | {wall_b:.3f} s | {ratio:.2f}x "
        f"| < {GOAL_WALL_S:g} s | {verdict(wall_c < GOAL_WALL_S)} |",
        f"| wall time, min of {runs} | {cascade['min']:.3f} s | {baseline['min']:.3f} s "
        f"| {min_ratio:.2f}x | | |",
        f"| CPU time user+sys, mean of {runs} | {cpu_c:.3f} s | {cpu_b:.3f} s | {cpu_b / cpu_c:.2f}x | | |"
        if cpu_c > 0 else None,
        f"| peak RSS, max of {len(rss_cascade)} | {peak_c:.1f} MB | {peak_b:.1f} MB | | "
        f"< {GOAL_RSS_MB:g} MB | {verdict(peak_c < GOAL_RSS_MB)} |",
        f"| speed-up, baseline / cascade (medians) | | | {ratio:.2f}x | >= {GOAL_RATIO:g}x "
        f"| {verdict(ratio >= GOAL_RATIO)} |",
        "",
        f"cascade: mean {cascade['mean']:.3f} s ± {cascade['stddev'] or 0:.3f}, user {cascade['user']:.3f} s, "
        f"system {cascade['system']:.3f} s; peak RSS median {statistics.median(rss_cascade):.1f} MB"
        if rss_cascade else None,
    ]
    text = "\n".join(line for line in out if line is not None).rstrip() + "\n"
    sys.stdout.write(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
