#!/usr/bin/env python3
"""Real builds: a fleet of ~20 images whose builds take known times (RUN sleep), patched
with `cascade patch` through buildah into a local docker-registry. Prints the measured
makespan against the lower bound max(critical path, total work / workers), where each
build's work is its sleep plus the per-build overhead of buildah itself (bud + push of a
trivial image, measured in the same run). Orchestration overhead = makespan / bound - 1.

    bench/patch_bench.py [--cascade build/cascade] [--images 20] [--parallel 2] [--seed 7]
"""
import argparse, datetime, json, os, random, shutil, socket, subprocess, sys, tempfile, time

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)

def git(repo, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="b@x", GIT_COMMITTER_NAME="bench",
               GIT_COMMITTER_EMAIL="b@x", GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null")
    run(["git", "-C", repo, *args], env=env)

def start_registry(work):
    port = free_port()
    config = os.path.join(work, "registry.yml")
    with open(config, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
                f"    rootdirectory: {work}/registry\nhttp:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen(["docker-registry", "serve", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise SystemExit("docker-registry did not start")

def make_fleet(work, host, images, rng):
    """One repository: base (busybox from scratch), then images on earlier images, 4+ levels."""
    repo = os.path.join(work, "fleet")
    os.makedirs(os.path.join(repo, "base"))
    shutil.copy("/usr/bin/busybox", os.path.join(repo, "base", "busybox"))
    with open(os.path.join(repo, "base", "Dockerfile"), "w") as f:
        f.write('FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n')
    sleeps, parents, names = {"base": 0.0}, {"base": []}, ["base"]
    for i in range(images - 1):
        name = f"img{i:02d}"
        # shaped like a fleet: early images sit on the base, later ones on earlier images
        pool = names[: max(1, len(names) * 2 // 3)] if i > 3 else ["base"]
        parent = rng.choice(pool)
        sleeps[name] = float(rng.choice([1, 2, 3, 4]))
        parents[name] = [parent]
        os.makedirs(os.path.join(repo, name))
        with open(os.path.join(repo, name, "Dockerfile"), "w") as f:
            f.write(f"FROM {host}/bench/{parent}:1\nRUN sleep {int(sleeps[name])} && echo {name} > /{name}\n")
        names.append(name)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bench fleet")
    with open(os.path.join(work, "fleet.yaml"), "w") as f:
        f.write(f"version: 1\nregistries:\n  - host: {host}\n    insecure: true\nsources:\n  - name: fleet\n"
                f"    git: fleet\n    discover:\n      - dockerfiles: \"*/Dockerfile\"\n"
                f"        image: \"{host}/bench/{{dir}}:1\"\n")
    return sleeps, parents

def buildah_overhead(work, host, runs=3):
    """Seconds buildah itself needs to build and push a trivial image (RUN true)."""
    root = os.path.join(work, "overhead")
    os.makedirs(os.path.join(root, "ctx"))
    shutil.copy("/usr/bin/busybox", os.path.join(root, "ctx", "busybox"))
    with open(os.path.join(root, "ctx", "Dockerfile"), "w") as f:
        f.write('FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "true"]\n')
    base = ["buildah", "--root", f"{root}/r", "--runroot", f"{root}/rr", "--storage-driver", "vfs"]
    times = []
    for i in range(runs):
        start = time.monotonic()
        run(base + ["bud", "--isolation", "chroot", "--format", "docker", "-t", f"{host}/overhead/x:{i}", f"{root}/ctx"])
        run(base + ["push", "--tls-verify=false", f"{host}/overhead/x:{i}"])
        times.append(time.monotonic() - start)
    return sorted(times)[len(times) // 2]

def lower_bound(work_of, parents, workers):
    finish = {}
    def done(name):
        if name not in finish:
            finish[name] = max([done(p) for p in parents[name]], default=0.0) + work_of[name]
        return finish[name]
    critical = max(done(n) for n in work_of)
    return max(critical, sum(work_of.values()) / workers), critical

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cascade", default=os.path.join(os.path.dirname(__file__), "..", "build", "cascade"))
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="cascade-patch-bench-")
    registry, host = start_registry(work)
    try:
        sleeps, parents = make_fleet(work, host, args.images, random.Random(args.seed))
        overhead = buildah_overhead(work, host)
        pipeline = os.path.join(work, "fleet.yaml")
        wall_start = time.time()
        start = time.monotonic()
        result = subprocess.run([args.cascade, "patch", "-p", pipeline, f"{host}/bench/base:1", "--parallel",
                                 str(args.parallel), "--format", "json"], capture_output=True, text=True)
        makespan = time.monotonic() - start
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            raise SystemExit(f"cascade patch failed with exit code {result.returncode}")
        report = json.loads(result.stdout)
        short = lambda image: image.rsplit("/", 1)[1].split(":")[0]
        task_seconds = {short(t["image"]): t["seconds"] for t in report["tasks"]}
        builder_seconds = {}  # what buildah itself took per image (build + push), from the run record
        for t in report["transitions"]:
            if t["to"] == "pushing" and t["detail"].startswith("built in "):
                parts = t["detail"].replace(",", "").split()
                builder_seconds[short(t["image"])] = float(parts[2]) + float(parts[6])
        ideal, critical = lower_bound(builder_seconds, parents, args.parallel)
        known, known_critical = lower_bound({n: sleeps[n] + overhead for n in sleeps}, parents, args.parallel)
        ratio = makespan / ideal
        beyond_sleep = sorted(builder_seconds[n] - sleeps[n] for n in sleeps)
        own = sorted(task_seconds[n] - builder_seconds[n] for n in sleeps)
        print(f"real builds: {len(sleeps)} images, {args.parallel} workers; a trivial buildah build+push alone: {overhead:.2f} s")
        print("| measure | value |")
        print("|---|---|")
        print(f"| known work: sleeps | {sum(sleeps.values()):.1f} s |")
        print(f"| buildah time per build beyond its sleep (median) | {beyond_sleep[len(beyond_sleep)//2]:.2f} s |")
        print(f"| cascade's own time per build: git export, pinning, state store (median) | {1000 * own[len(own)//2]:.0f} ms |")
        print(f"| bound from known work (sleep + trivial build) max({known_critical:.1f}, work/{args.parallel}) | {known:.1f} s |")
        print(f"| bound from the measured builds max({critical:.1f}, work/{args.parallel}) | {ideal:.1f} s |")
        print(f"| measured makespan (cascade patch, wall, planning included) | {makespan:.1f} s |")
        print(f"| makespan / known-work bound | {makespan / known:.3f} |")
        # Time cascade spends not building: before the first build (scan, registry, plan),
        # its own work inside each task, and the gaps between a build ending and the next
        # one starting (dispatch), over the workers.
        stamp = lambda text: datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        spans = sorted((stamp(t["started_at"]), stamp(t["finished_at"])) for t in report["tasks"] if t["started_at"])
        startup = spans[0][0] - wall_start
        ends = sorted(end for _, end in spans)
        gaps = []
        for begin, _ in spans[args.parallel:]:
            free = max((e for e in ends if e <= begin), default=None)
            if free is not None:
                gaps.append(begin - free)
                ends.remove(free)
        orchestration = startup + (sum(own) + sum(gaps)) / args.parallel
        share = orchestration / makespan
        print(f"| makespan / measured-build bound (schedule quality with no history) | {ratio:.3f} |")
        print(f"| start-up before the first build (scan, registry, plan) | {1000 * startup:.0f} ms |")
        print(f"| dispatch gap, a build ending to the next starting (mean) | {1000 * sum(gaps) / max(1, len(gaps)):.0f} ms |")
        print(f"| orchestration overhead: time cascade spends not building / makespan | {100 * share:.2f} % "
              f"(goal < 5 %: {'PASS' if share < 0.05 else 'FAIL'}) |")
    finally:
        registry.terminate()
        registry.wait()
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
