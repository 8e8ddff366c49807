#!/usr/bin/env python3
"""Scan: `cascade scan` of 1,000 registry images sharing three base layers, against the naive
baseline (per image `skopeo copy` to a folder, then tar extracts the package databases from
every layer), a warm rescan after one base changes, and the `affected --package` query from
the store. All in one run, on one docker-registry on 127.0.0.1 (storage in bench/.work/scan).

    bench/scan_bench.py [--cascade build/cascade] [--images 1000] [--seed 1] [--sample 20]
                        [--runs 3] [--warm-runs 5] [--query-runs 30] [--force]

Prints a table (metric, cascade, baseline, ratio, goal, PASS/FAIL) and writes it to
bench/.work/scan/results.md; exits 0 (a report) unless a command fails.
"""
import argparse, json, os, shutil, socket, statistics, subprocess, sys, time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, ".work", "scan")
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in bench/
import scan_fleet  # noqa: E402

TIME_FORMAT = "%e %U %S %M"
# what the baseline extracts from each layer: the package databases and os-release
MEMBERS = ["var/lib/dpkg/status", "var/lib/dpkg/status.d/*", "lib/apk/db/installed", "var/lib/rpm/rpmdb.sqlite",
           "etc/os-release", "usr/lib/os-release"]


def free_port(preferred=None):
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise SystemExit("no free port")


def start_registry():
    """docker-registry on 127.0.0.1, storage under WORK/registry; the port of the last run when
    it is free (so the git repository of Dockerfiles naming it stays valid)."""
    try:
        with open(os.path.join(WORK, "port")) as f:
            previous = int(f.read())
    except (OSError, ValueError):
        previous = None
    port = free_port(previous)
    with open(os.path.join(WORK, "port"), "w") as f:
        f.write(str(port))
    config = os.path.join(WORK, "registry.yml")
    with open(config, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  cache:\n"
                f"    blobdescriptor: inmemory\n  filesystem:\n    rootdirectory: {WORK}/registry\n"
                f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n")
    log = open(os.path.join(WORK, "registry.log"), "w")
    proc = subprocess.Popen(["docker-registry", "serve", config], stdout=log, stderr=log)
    for _ in range(200):
        if proc.poll() is not None:
            raise SystemExit(f"docker-registry exited with {proc.returncode}; see {WORK}/registry.log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as answer:
                if answer.status == 200:
                    return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    raise SystemExit("docker-registry did not start")


def timed(argv, name, check=True):
    """Runs argv under GNU time. Returns (wall s, user s, sys s, peak RSS KB, stdout)."""
    time_file = os.path.join(WORK, f"time-{name}.txt")
    started = time.monotonic()
    result = subprocess.run(["/usr/bin/time", "-f", TIME_FORMAT, "-o", time_file, *argv],
                            capture_output=True, text=True)
    wall = time.monotonic() - started
    with open(os.path.join(WORK, f"{name}.stderr"), "w") as f:
        f.write(result.stderr)
    if check and result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit(f"{' '.join(argv)} failed with exit code {result.returncode}")
    with open(time_file) as f:
        _, user, system, rss = f.read().split()[-4:]
    return wall, float(user), float(system), int(rss), result.stdout


def reset_state(from_dir=None):
    state = os.path.join(WORK, "state")
    shutil.rmtree(state, ignore_errors=True)
    if from_dir:
        shutil.copytree(from_dir, state)
    else:
        os.makedirs(state)


def cpu_seconds(pid):
    """user+system CPU seconds a process (the registry) has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scan(cascade, pipeline, name, registry):
    before = cpu_seconds(registry.pid)
    wall, user, system, rss, out = timed([cascade, "scan", "-p", pipeline, "--format", "json"], name)
    registry_cpu = cpu_seconds(registry.pid) - before
    report = json.loads(out)
    if report["failed"]:
        raise SystemExit(f"cascade scan: {report['failed']} subjects failed; see {WORK}/{name}.stderr")
    return {"wall": wall, "cpu": user + system, "rss_mb": rss / 1024, "registry_cpu": registry_cpu, **report}


def baseline_image(host, image, folder):
    """The naive way: skopeo copy to a folder, then tar extracts the databases from every layer."""
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    started = time.monotonic()
    subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{host}/{image['repo']}:{image['tag']}",
                    f"oci:{folder}/oci:{image['tag']}"], check=True, capture_output=True)
    blobs = os.path.join(folder, "oci", "blobs", "sha256")
    with open(os.path.join(folder, "oci", "index.json")) as f:
        manifest_digest = json.load(f)["manifests"][0]["digest"]
    with open(os.path.join(blobs, manifest_digest.split(":")[1])) as f:
        layers = [layer["digest"] for layer in json.load(f)["layers"]]
    out = os.path.join(folder, "rootfs")
    os.makedirs(out)
    downloaded = 0
    for digest in layers:
        blob = os.path.join(blobs, digest.split(":")[1])
        downloaded += os.path.getsize(blob)
        result = subprocess.run(["tar", "-xzf", blob, "-C", out, "--wildcards", *MEMBERS], capture_output=True, text=True)
        noise = [line for line in result.stderr.splitlines()
                 if "Not found in archive" not in line and "Exiting with failure status" not in line]
        if result.returncode not in (0, 2) or noise:
            raise SystemExit(f"tar failed on {digest} of {image['repo']}: {result.stderr}")
    seconds = time.monotonic() - started
    database = "lib/apk/db/installed" if image["base"] == "alpine" else "var/lib/dpkg/status"
    if not os.path.isfile(os.path.join(out, database)):
        raise SystemExit(f"the baseline found no {database} in {image['repo']}")
    return seconds, downloaded, len(layers)


def fmt_s(seconds):
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cascade", default=os.path.join(ROOT, "build", "cascade"))
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sample", type=int, default=20, help="images copied by the baseline (extrapolated)")
    ap.add_argument("--runs", type=int, default=3, help="cold scans (fresh state file each)")
    ap.add_argument("--warm-runs", type=int, default=5, help="warm rescans (state restored to after the cold scan)")
    ap.add_argument("--query-runs", type=int, default=30)
    ap.add_argument("--force", action="store_true", help="push the fleet again even when it is there")
    args = ap.parse_args()
    if min(args.images, args.sample, args.runs, args.warm_runs, args.query_runs) < 1 or args.sample > args.images:
        ap.error("--images, --sample, --runs, --warm-runs and --query-runs must be at least 1; --sample at most --images")
    cascade = os.path.abspath(args.cascade)
    if not os.access(cascade, os.X_OK):
        raise SystemExit(f"no cascade binary at {cascade}: build it first")
    if any(c.isspace() for c in cascade + WORK):
        raise SystemExit("the cascade path and bench/.work must not contain whitespace (hyperfine -N splits on it)")
    os.makedirs(WORK, exist_ok=True)
    registry, host = start_registry()
    try:
        meta = scan_fleet.ensure(WORK, host, os.path.join(WORK, "registry"), args.images, args.seed, args.force)
        _, pipeline = scan_fleet.write_git(WORK, host, meta)
        images = meta["images"]
        bases = meta["bases"]
        changed = meta["changed_base"]
        subjects = len(images) + len(bases)
        own_layers = sum(len(i["layers"]) for i in images)
        per_base = {b: sum(1 for i in images if i["base"] == b) for b in bases}
        shares = ", ".join(f"{b} {n}" for b, n in per_base.items())
        sizes = ", ".join(f"{b} {v['variants']['A']['size'] / 1e6:.1f} MB" for b, v in bases.items())
        own_mb = sum(layer["size"] for i in images for layer in i["layers"]) / 1e6
        print(f"fleet: {len(images)} images in {host} on {len(bases)} bases ({shares}), {own_layers} own layers "
              f"({own_mb:.1f} MB), base layers {sizes}")
        print(f"load average before timing: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

        # a. cold scans, fresh state file each
        cold = []
        for r in range(args.runs):
            reset_state()
            cold.append(scan(cascade, pipeline, f"cold-{r}", registry))
            c = cold[-1]
            print(f"cold scan {r + 1}/{args.runs}: {c['wall']:.2f} s wall, {c['cpu']:.2f} s CPU "
                  f"(registry {c['registry_cpu']:.2f} s), {c['rss_mb']:.0f} MB, "
                  f"{c['layers_read']} layers read ({c['bytes_read'] / 1e6:.1f} MB), {c['layers_known']} known, "
                  f"{c['manifests_read']} manifests", flush=True)
            if c["images"] != subjects or c["layers_read"] != own_layers + len(bases):
                raise SystemExit(f"cold scan: {c['images']} images and {c['layers_read']} layers read; "
                                 f"expected {subjects} and {own_layers + len(bases)}")
        cold_state = os.path.join(WORK, "state-cold")
        shutil.rmtree(cold_state, ignore_errors=True)
        shutil.copytree(os.path.join(WORK, "state"), cold_state)

        # b. the naive baseline on a sample spread over the fleet, extrapolated to every subject
        sample = [images[i * len(images) // args.sample] for i in range(args.sample)]
        base_runs = []
        for image in sample:
            base_runs.append(baseline_image(host, image, os.path.join(WORK, "baseline", image["name"])))
        shutil.rmtree(os.path.join(WORK, "baseline"), ignore_errors=True)
        base_mean = statistics.mean(s for s, _, _ in base_runs)
        baseline_all = base_mean * subjects
        print(f"baseline: {args.sample} images copied and extracted in {sum(s for s, _, _ in base_runs):.2f} s "
              f"(median {fmt_s(statistics.median(s for s, _, _ in base_runs))} per image, "
              f"{statistics.mean(b for _, b, _ in base_runs) / 1e6:.1f} MB downloaded per image); "
              f"x {subjects} = {baseline_all:.0f} s", flush=True)

        # c. one base changes: new base layer, new digests for the base and every image on it
        flipped, flip_seconds = scan_fleet.flip(WORK, host, meta, "B")
        print(f"pushed a new {bases[changed]['repo']}:{bases[changed]['tag']} (one new layer) and {flipped} images "
              f"on it (new configs and manifests, same own layers) in {flip_seconds:.1f}s", flush=True)
        warm = []
        for r in range(args.warm_runs):
            reset_state(cold_state)
            warm.append(scan(cascade, pipeline, f"warm-{r}", registry))
            w = warm[-1]
            print(f"warm rescan {r + 1}/{args.warm_runs}: {fmt_s(w['wall'])} wall (cascade's own {fmt_s(w['seconds'])}), "
                  f"{fmt_s(w['cpu'])} CPU (registry {fmt_s(w['registry_cpu'])}), {w['rss_mb']:.0f} MB, "
                  f"{w['layers_read']} layers read, "
                  f"{w['manifests_read']} manifests read", flush=True)

        # d. the query, whole process, over the store the last rescan left
        query = [cascade, "affected", "-p", pipeline, "--package", "bash"]
        _, _, _, query_rss, out = timed(query + ["--format", "json"], "query")
        exposure = json.loads(out)
        exposed = len({item["subject"] for item in exposure["images"]})
        expected = (sum(1 for i in images if i["base"] != "alpine" or "bash" in i["installs"])
                    + sum(1 for b in bases.values() if b["format"] == "dpkg"))
        if exposed != expected:
            print(f"WARNING: affected --package bash names {exposed} images; the fleet has {expected} with bash",
                  file=sys.stderr)
        hyperfine_json = os.path.join(WORK, "hyperfine-query.json")
        subprocess.run(["hyperfine", "-N", "--style", "basic", "--warmup", "3", "--runs", str(args.query_runs),
                        "--export-json", hyperfine_json, " ".join(query)], check=True, stdout=subprocess.DEVNULL)
        with open(hyperfine_json) as f:
            hf = json.load(f)["results"][0]

        # the table
        cold_wall = statistics.median(c["wall"] for c in cold)
        cold_rss = max(c["rss_mb"] for c in cold)
        warm_wall = statistics.median(w["wall"] for w in warm)
        warm_layers = max(w["layers_read"] for w in warm)
        ratio = baseline_all / cold_wall
        verdict = lambda ok: "PASS" if ok else "FAIL"
        rows = [
            ("cold scan, wall (median of %d; fresh state file)" % args.runs, f"{cold_wall:.2f} s",
             f"{baseline_all:.0f} s (extrapolated from {args.sample})", f"{ratio:.0f}x", ">= 20x", verdict(ratio >= 20)),
            ("cold scan, peak RSS (max of %d)" % args.runs, f"{cold_rss:.0f} MB", "", "", "< 200 MB",
             verdict(cold_rss < 200)),
            (f"warm rescan after {bases[changed]['repo']} changed, wall (median of {args.warm_runs})", fmt_s(warm_wall),
             "", "", "< 1 s", verdict(warm_wall < 1)),
            ("warm rescan, layers read (max)", str(warm_layers), "", "", "= new layers (1)", verdict(warm_layers == 1)),
            ("query `affected --package bash`, whole process (hyperfine median)", fmt_s(hf["median"]), "", "", "< 50 ms",
             verdict(hf["median"] < 0.05)),
        ]
        lines = [f"scan: {len(images)} images + {len(bases)} bases, {own_layers + len(bases)} distinct layers; "
                 f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", "",
                 "| metric | cascade | baseline | ratio | goal | result |", "|---|---|---|---|---|---|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        c, w = cold[len(cold) // 2], warm[len(warm) // 2]
        lines += ["",
                  f"- cold: {c['layers_read']} layers read ({c['bytes_read'] / 1e6:.1f} MB), {c['layers_known']} found "
                  f"already indexed, {c['manifests_read']} manifests; CPU (user+sys) median "
                  f"{statistics.median(x['cpu'] for x in cold):.2f} s, the registry's "
                  f"{statistics.median(x['registry_cpu'] for x in cold):.2f} s; cascade's own time after loading the graph "
                  f"{statistics.median(x['seconds'] for x in cold):.2f} s",
                  f"- baseline: skopeo copy + tar per image, mean {fmt_s(base_mean)}, "
                  f"{statistics.mean(b for _, b, _ in base_runs) / 1e6:.1f} MB downloaded per image "
                  f"(~{statistics.mean(b for _, b, _ in base_runs) * subjects / 1e9:.1f} GB for the fleet); "
                  f"sample of {args.sample}, every {len(images) // args.sample}th image",
                  f"- warm: {flipped + 1} new image digests ({bases[changed]['repo']} and its images), "
                  f"manifests read {w['manifests_read']}, layers read {w['layers_read']} "
                  f"({w['bytes_read'] / 1e6:.1f} MB), CPU median {fmt_s(statistics.median(x['cpu'] for x in warm))} "
                  f"(the registry's {fmt_s(statistics.median(x['registry_cpu'] for x in warm))}), "
                  f"cascade's own time {fmt_s(statistics.median(x['seconds'] for x in warm))}, "
                  f"peak RSS {max(x['rss_mb'] for x in warm):.0f} MB",
                  f"- query: mean {fmt_s(hf['mean'])} ± {hf['stddev'] * 1000:.1f} ms, user {fmt_s(hf['user'])}, "
                  f"system {fmt_s(hf['system'])}, peak RSS {query_rss / 1024:.0f} MB; {exposed} exposed images "
                  f"(expected {expected}), {exposure['checked']['images']} checked"]
        report = "\n".join(lines) + "\n"
        print("\n" + report)
        with open(os.path.join(WORK, "results.md"), "w") as f:
            f.write(report)
        return 0
    finally:
        registry.terminate()
        try:
            registry.wait(timeout=30)
        except subprocess.TimeoutExpired:
            registry.kill()


if __name__ == "__main__":
    sys.exit(main())
