#!/usr/bin/env python3
"""Builds spread over real Docker Engines: a fleet of ~20 images whose builds take known
times (RUN sleep), patched by `cascade patch` on (A) one dockerd worker of capacity 1 and
(B) two dockerd workers of capacity 1 each, in one run, each on fresh engines and a fresh
registry; then (C) two workers of capacity 2 against (D) the same without the
parent-locality rule (CASCADE_PREFER_PARENT_WORKER=0). For each: the makespan against its lower bound max(critical path, work / workers)
from the builds' own measured times, against a greedy list schedule of the same measured
builds (longest remaining path first, no dispatch cost: the strongest fair baseline), and
the orchestration overhead (makespan / greedy - 1: idle slots count). C against D counts
the base pulls the locality rule saves (a build on a worker that does not hold its parent
pulls it, once per worker).

    bench/workers_bench.py [--cascade build/cascade] [--images 20] [--seed 7]
"""
import argparse, json, os, random, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(__file__))
from patch_bench import lower_bound, make_fleet, start_registry  # noqa: E402

DOCKER = "/usr/bin/docker"  # Debian's docker.io client: BuildKit without the buildx plugin


def start_dockerd(work, name):
    d = os.path.join(work, name)
    os.makedirs(d)
    sock = os.path.join(d, "docker.sock")
    log = open(os.path.join(d, "dockerd.log"), "w")
    proc = subprocess.Popen(["dockerd", "--data-root", f"{d}/data", "--exec-root", f"{d}/exec", "--pidfile",
                             f"{d}/docker.pid", "-H", f"unix://{sock}", "--storage-driver", "vfs",
                             "--iptables=false", "--ip-masq=false", "--bridge=none"], stdout=log, stderr=log)
    for _ in range(600):
        if os.path.exists(sock) and subprocess.run([DOCKER, "-H", f"unix://{sock}", "version"],
                                                   capture_output=True).returncode == 0:
            return proc, f"unix://{sock}"
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit(f"dockerd {name} did not start: see {d}/dockerd.log")


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def greedy(work_of, parents, workers):
    """List scheduling of the measured builds on `workers` slots, longest remaining path first."""
    children = {n: [c for c in work_of if n in parents[c]] for n in work_of}
    memo = {}
    def rest(n):
        if n not in memo:
            memo[n] = work_of[n] + max([rest(c) for c in children[n]], default=0.0)
        return memo[n]
    done_at, free, t = {}, [0.0] * workers, 0.0
    left = set(work_of)
    while left:
        ready = [n for n in left if all(p in done_at and done_at[p] <= t for p in parents[n])]
        slot = min(range(workers), key=lambda i: free[i])
        if not ready or free[slot] > t:
            t = min([f for f in free if f > t] + [d for d in done_at.values() if d > t])
            continue
        n = max(ready, key=rest)
        left.remove(n)
        done_at[n] = t + work_of[n]
        free[slot] = done_at[n]
    return max(done_at.values())


def one_config(args, label, workers, locality, seed, capacity=1):
    work = tempfile.mkdtemp(prefix=f"cascade-workers-bench-{label}-")
    registry, host = start_registry(work)
    engines = [start_dockerd(work, f"engine{i}") for i in range(workers)]
    try:
        sleeps, parents = make_fleet(work, host, args.images, random.Random(seed))
        with open(os.path.join(work, "fleet.yaml"), "a") as f:
            f.write("builders:\n  workers:\n")
            for i, (_, endpoint) in enumerate(engines):
                f.write(f"    - {{name: w{i}, kind: docker, endpoint: \"{endpoint}\", capacity: {capacity}, "
                        "network: none}\n")
        env = dict(os.environ)
        if not locality:
            env["CASCADE_PREFER_PARENT_WORKER"] = "0"
        start = time.monotonic()
        result = subprocess.run([args.cascade, "patch", "-p", os.path.join(work, "fleet.yaml"), f"{host}/bench/base:1",
                                 "--format", "json"], capture_output=True, text=True, env=env)
        makespan = time.monotonic() - start
        if result.returncode != 0:
            sys.stderr.write(result.stderr[-4000:])
            raise SystemExit(f"{label}: cascade patch failed with exit code {result.returncode}")
        report = json.loads(result.stdout)
        short = lambda image: image.rsplit("/", 1)[1].split(":")[0]
        worker_of = {short(t["image"]): t["worker"] for t in report["tasks"]}
        builder_seconds = {}
        for t in report["transitions"]:
            if t["to"] == "pushing" and t["detail"].startswith("built in "):
                parts = t["detail"].replace(",", "").split()
                builder_seconds[short(t["image"])] = float(parts[2]) + float(parts[6])
        slots = workers * capacity
        bound, critical = lower_bound(builder_seconds, parents, slots)
        # A parent built on another worker is pulled once by each worker that builds on it.
        pulls = len({(worker_of[n], p) for n in parents for p in parents[n] if worker_of[p] != worker_of[n]})
        local = sum(1 for n in parents for p in parents[n] if worker_of[p] == worker_of[n])
        return {"label": label, "workers": workers, "makespan": makespan, "bound": bound, "critical": critical,
                "greedy": greedy(builder_seconds, parents, slots), "work": sum(builder_seconds.values()),
                "pulls": pulls, "local": local, "per_worker": {w: list(worker_of.values()).count(w)
                                                               for w in sorted(set(worker_of.values()))}}
    finally:
        for proc, _ in engines:
            stop(proc)
        stop(registry)
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cascade", default=os.path.join(os.path.dirname(__file__), "..", "build", "cascade"))
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if not shutil.which("dockerd"):
        raise SystemExit("dockerd is not installed (scripts/setup.sh installs docker.io)")
    one = one_config(args, "A", 1, True, args.seed)
    two = one_config(args, "B", 2, True, args.seed)
    wide = one_config(args, "C", 2, True, args.seed, capacity=2)
    off = one_config(args, "D", 2, False, args.seed, capacity=2)
    names = {"A": "A: 1 worker x 1", "B": "B: 2 workers x 1", "C": "C: 2 workers x 2",
             "D": "D: 2 workers x 2, no locality"}
    print(f"{args.images} images with RUN sleep 1-4 s on docker workers (dockerd 20.10, BuildKit); "
          "bound = max(critical path, work / slots) of the measured builds; greedy = a list schedule of the same "
          "builds, longest remaining path first, no dispatch cost")
    print("| config | makespan | bound | greedy | makespan / bound | makespan / greedy | builds per worker | "
          "base pulls |")
    print("|---|---|---|---|---|---|---|---|")
    for r in (one, two, wide, off):
        print(f"| {names[r['label']]} | {r['makespan']:.1f} s | {r['bound']:.1f} s (CP {r['critical']:.1f}, work "
              f"{r['work']:.1f}) | {r['greedy']:.1f} s | {r['makespan'] / r['bound']:.3f} | "
              f"{r['makespan'] / r['greedy']:.3f} | {r['per_worker']} | {r['pulls']} |")
    speedup = one["makespan"] / two["makespan"]
    overhead = max(r["makespan"] / r["greedy"] for r in (one, two)) - 1
    print(f"\nspeed-up of two workers over one (x 1 each): {speedup:.2f}x "
          f"(goal >= 1.8x: {'PASS' if speedup >= 1.8 else 'FAIL'})")
    print(f"orchestration overhead, worst of A and B against the greedy schedule of the same builds (idle slots "
          f"count): {100 * overhead:.1f} % (goal < 5 %: {'PASS' if overhead < 0.05 else 'FAIL'}); against the bound "
          f"(not always reachable: whole builds cannot be split): "
          f"{100 * (max(r['makespan'] / r['bound'] for r in (one, two)) - 1):.1f} %")
    print(f"base pulls saved by the parent-locality rule (C against D): {off['pulls'] - wide['pulls']} "
          f"({wide['pulls']} with it, {off['pulls']} without)")

if __name__ == "__main__":
    main()
