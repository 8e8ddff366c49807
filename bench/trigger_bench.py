#!/usr/bin/env python3
"""Trigger to first build: how long `cascade serve` (debounce 0) takes from receiving a
registry notification of a new base digest to starting the first build of the cascade.
Real peers: docker-registry on loopback, the example fleet in git, buildah. Each round
publishes a different patched base with buildah, posts the registry's notification, and
waits for the run to end. Times come from the daemon's own store (same clock): the event's
received_at, the run's created_at and the first task's started_at (entry into building).
Also printed, as the baseline in the same run: what `cascade plan` of the same trigger costs
as a fresh process (load the pipeline, scan git, ask the registry, plan).

    bench/trigger_bench.py [--build build-bench] [--rounds 3]
"""
import argparse, datetime, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from webhook_bench import free_port, wait_port  # noqa: E402


def iso(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
        return json.load(answer)


def notify(port, host, digest, event_id):
    event = {"id": event_id, "timestamp": "2026-11-28T10:00:00.000Z", "action": "push",
             "target": {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": digest,
                        "size": 1000, "repository": "platform/base", "tag": "1",
                        "url": f"http://{host}/v2/platform/base/manifests/{digest}"},
             "request": {"id": "r", "host": host, "method": "PUT"}, "actor": {}, "source": {}}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/hooks/registry", method="POST",
                                     data=json.dumps({"events": [event]}).encode(),
                                     headers={"Authorization": "Bearer bench-token",
                                              "Content-Type": "application/vnd.docker.distribution.events.v1+json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 202, answer.status


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    subprocess.run(["cmake", "-S", ROOT, "-B", args.build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                    "-DCASCADE_BENCH=ON", "-DBUILD_TESTING=OFF"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", args.build, "cascade"], check=True, stdout=subprocess.DEVNULL)
    cascade = os.path.join(args.build, "cascade")
    work = tempfile.mkdtemp(prefix="trigger-bench-")
    procs = []
    try:
        reg_port = free_port()
        host = f"127.0.0.1:{reg_port}"
        with open(os.path.join(work, "registry.yml"), "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
                    f"    rootdirectory: {work}/registry\nhttp:\n  addr: {host}\n")
        registry = subprocess.Popen(["docker-registry", "serve", os.path.join(work, "registry.yml")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(registry)
        wait_port(reg_port, registry, "docker-registry")
        repos = os.path.join(work, "repos")
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "make-example-repos.sh"), repos], check=True,
                       stdout=subprocess.DEVNULL, env=dict(os.environ, CASCADE_EXAMPLE_REGISTRY=host))
        with open(os.path.join(ROOT, "pipelines", "example.yaml")) as f:
            text = f.read().replace("../examples/.repos/", repos + "/").replace("127.0.0.1:5000", host)
        port = free_port()
        text += (f"triggers:\n  listen: 127.0.0.1:{port}\n  debounce: 0s\n  webhooks:\n"
                 f"    - sender: distribution\n      path: registry\n      token_env: BENCH_TOKEN\n")
        pipeline = os.path.join(work, "pipeline.yaml")
        with open(pipeline, "w") as f:
            f.write(text)
        base = f"{host}/platform/base:1"
        print("building the fleet once (cascade patch) ...", file=sys.stderr)
        subprocess.run([cascade, "patch", "-p", pipeline, base, "--no-deploy"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        env = dict(os.environ, BENCH_TOKEN="bench-token")
        daemon = subprocess.Popen([cascade, "serve", "-p", pipeline], stdout=subprocess.DEVNULL,
                                  stderr=open(os.path.join(work, "serve.log"), "w"), env=env)
        procs.append(daemon)
        wait_port(port, daemon, "cascade serve")

        storage = ["buildah", "--root", f"{work}/buildah/root", "--runroot", f"{work}/buildah/runroot",
                   "--storage-driver", "vfs"]
        rows, plans = [], []
        for round_ in range(1, args.rounds + 1):
            context = os.path.join(work, f"base-{round_}")
            os.makedirs(context)
            shutil.copy(os.path.join(repos, "platform", "base", "busybox"), context)
            with open(os.path.join(repos, "platform", "base", "Dockerfile")) as f:
                dockerfile = f.read()
            with open(os.path.join(context, "Dockerfile"), "w") as f:
                f.write(dockerfile + f"RUN echo fix-{round_} > /etc/fixed\n")
            subprocess.run(storage + ["bud", "--quiet", "--isolation", "chroot", "--format", "docker",
                                      "--tls-verify=false", "-t", base, context], check=True, stdout=subprocess.DEVNULL)
            digest_file = os.path.join(work, f"digest-{round_}")
            subprocess.run(storage + ["push", "--quiet", "--tls-verify=false", "--digestfile", digest_file, base,
                                      f"docker://{base}"], check=True, stdout=subprocess.DEVNULL)
            digest = open(digest_file).read().strip()
            started = time.monotonic()
            subprocess.run([cascade, "plan", "-p", pipeline, f"{base}@{digest}"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            plans.append((time.monotonic() - started) * 1000)
            runs_before = len(get(port, "/api/runs")["runs"])
            notify(port, host, digest, f"round-{round_}")
            while True:
                runs = get(port, "/api/runs")["runs"]
                if len(runs) > runs_before and runs[0]["state"] not in ("planned", "running"):
                    break
                time.sleep(0.2)
            run = get(port, f"/api/runs/{runs[0]['id']}")
            event = next(e for e in get(port, "/api/events?limit=20")["events"] if e["event_id"] == f"round-{round_}")
            received = iso(event["received_at"])
            first = min(iso(t["started_at"]) for t in run["tasks"] if t["started_at"])
            created = iso(run["created_at"])
            rows.append(((created - received).total_seconds() * 1000, (first - received).total_seconds() * 1000,
                         run["state"], len(run["tasks"])))
        print("\ntrigger to first build, debounce 0, example fleet (9 images, 8 rebuilt), real registry and buildah\n")
        print("| round | notice -> run stored (ms) | notice -> first build started (ms) | run | baseline: `cascade plan` as a process (ms) |")
        print("|---|---|---|---|---|")
        for i, ((stored, first, state, tasks), plan) in enumerate(zip(rows, plans), 1):
            print(f"| {i} | {stored:.0f} | {first:.0f} | {state}, {tasks} tasks | {plan:.0f} |")
        median = statistics.median(r[1] for r in rows)
        print(f"\nmedian notice -> first build: {median:.0f} ms (goal < 50 ms: {'PASS' if median < 50 else 'FAIL'}); "
              f"the same planning as a fresh `cascade plan` process: {statistics.median(plans):.0f} ms "
              f"(ratio {median / statistics.median(plans):.2f})")
        return 0
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
