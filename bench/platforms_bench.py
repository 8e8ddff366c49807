#!/usr/bin/env python3
"""The cost of a second platform on the example fleet: `cascade patch platform/base:1` (the
base and everything built on it) for (A) the engine's own platform, linux/amd64, natively,
against (B) linux/amd64 + linux/arm64, arm64 under qemu emulation, pushed as image indexes.
Same machine, same run, same --parallel; each on a fresh registry and fresh buildah storage.

For each: the makespan, the builds' own seconds (build + push, from the run's record), and
the most builds that ran at once (from the tasks' start and end times: independent images
must build in parallel within --parallel whatever their platforms). Then B / A.

    bench/platforms_bench.py [--cascade build/cascade] [--parallel 2]

Needs what scripts/setup.sh installs (qemu binfmt, /var/cache/cascade/arm64/busybox).
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(__file__))
from patch_bench import start_registry  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARM64_BUSYBOX = "/var/cache/cascade/arm64/busybox"


def run(argv, **kw):
    result = subprocess.run(argv, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-2000:] + result.stderr[-4000:])
        raise SystemExit(f"platforms-bench: {' '.join(argv[:4])} ... failed (exit {result.returncode})")
    return result.stdout


def make_fleet(work, host, platforms):
    """The example fleet's repositories naming `host`, its base made buildable for every
    platform (one busybox per architecture, chosen by TARGETARCH), and its pipeline."""
    repos = os.path.join(work, "examples", ".repos")
    run(["bash", os.path.join(REPO, "scripts", "make-example-repos.sh"), repos],
        env=dict(os.environ, CASCADE_EXAMPLE_REGISTRY=host))
    base = os.path.join(repos, "platform", "base")
    shutil.move(os.path.join(base, "busybox"), os.path.join(base, "busybox-amd64"))
    shutil.copy(ARM64_BUSYBOX, os.path.join(base, "busybox-arm64"))
    dockerfile = os.path.join(base, "Dockerfile")
    text = open(dockerfile).read().replace("COPY busybox /bin/busybox", "ARG TARGETARCH\nCOPY busybox-${TARGETARCH} /bin/busybox")
    open(dockerfile, "w").write(text)
    git = ["git", "-C", os.path.join(repos, "platform"), "-c", "user.name=bench", "-c", "user.email=bench@invalid"]
    run(git + ["add", "-A"])
    run(git + ["commit", "-q", "-m", "base: one busybox per architecture"])
    pipeline = open(os.path.join(REPO, "pipelines", "example.yaml")).read().replace("127.0.0.1:5000", host)
    if platforms:
        pipeline = pipeline.replace("\nsources:", f"\nplatforms: [{', '.join(platforms)}]\nsources:", 1)
    os.makedirs(os.path.join(work, "pipelines"))
    path = os.path.join(work, "pipelines", "example.yaml")
    open(path, "w").write(pipeline)
    return path


def stamp(text):
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def one_config(args, label, platforms):
    work = tempfile.mkdtemp(prefix=f"cascade-platforms-bench-{label}-")
    registry, host = start_registry(work)
    try:
        pipeline = make_fleet(work, host, platforms)
        env = dict(os.environ, CASCADE_STATE_DIR=os.path.join(work, "state"))
        start = time.monotonic()
        result = subprocess.run([args.cascade, "patch", "-p", pipeline, f"{host}/platform/base:1", "--parallel",
                                 str(args.parallel), "--format", "json"], capture_output=True, text=True, env=env)
        makespan = time.monotonic() - start
        if result.returncode != 0:
            sys.stderr.write(result.stderr[-4000:])
            raise SystemExit(f"{label}: cascade patch failed with exit code {result.returncode}")
        report = json.loads(result.stdout)
        work_seconds = 0.0
        for t in report["transitions"]:
            if t["to"] == "pushing" and t["detail"].startswith("built in "):
                parts = t["detail"].replace(",", "").split()
                work_seconds += float(parts[2]) + float(parts[6])
        spans = [(stamp(t["started_at"]), stamp(t["finished_at"])) for t in report["tasks"]
                 if t.get("started_at") and t.get("finished_at")]
        events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
        running = most = 0
        for _, delta in events:
            running += delta
            most = max(most, running)
        return {"label": label, "images": len(report["tasks"]), "makespan": makespan, "work": work_seconds,
                "most_at_once": most}
    finally:
        registry.terminate()
        registry.wait()
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cascade", default=os.path.join(REPO, "build", "cascade"))
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args()
    if not os.path.exists(ARM64_BUSYBOX):
        raise SystemExit(f"platforms-bench: {ARM64_BUSYBOX} is missing: run scripts/setup.sh")
    native = one_config(args, "A", [])
    both = one_config(args, "B", ["linux/amd64", "linux/arm64"])
    print(f"{'config':<34}{'images':>7}{'makespan s':>12}{'build+push s':>14}{'most at once':>14}")
    for row, name in ((native, "A linux/amd64 (native)"), (both, "B + linux/arm64 (qemu), as indexes")):
        print(f"{name:<34}{row['images']:>7}{row['makespan']:>12.1f}{row['work']:>14.1f}{row['most_at_once']:>14}")
    print(f"B / A: makespan {both['makespan'] / native['makespan']:.2f}x, build+push work "
          f"{both['work'] / native['work']:.2f}x (--parallel {args.parallel})")


if __name__ == "__main__":
    main()
