#!/usr/bin/env python3
"""Fault injection against real peers: `cascade serve` driving a real webhook cascade
(docker-registry whose own push notifications reach the daemon, buildah, a podman API
service running the workloads) while it is killed with -9, while the registry is stopped,
and while the registry accepts connections and never answers.

    bench/chaos/chaos.py [--cascade build/cascade] [--trials 20] [--max-kills 3] [--seed 1]
                         [--grace 10] [--only kill|registry|hang] [--keep]

Trials (each publishes a differently patched base with buildah; the registry tells the daemon):
  kill      one calibration run without faults measures the run time T; then each trial kills
            the daemon with SIGKILL at a moment uniform over [0, T] after the push, restarts
            it, and while the run is not finished kills it again (uniform over [0, T] after the
            restart), at most --max-kills times; then waits for the run to end.
  registry  the registry stopped for 10 s once the run has begun building, then started again
            on the same port and storage: the run must still complete.
  hang      a socket that accepts connections and never answers stands in for the registry of
            a second fleet; a patch is asked for through the API, and 2 s later the daemon gets
            SIGTERM: the time to its exit is measured against --grace.

After each kill or registry trial, from the daemon's API, the registry's access log and the
podman API: the run for the pushed digest is the only one and succeeded; every event stored
since the trial began is joined to a run or settled; no image was pushed twice (manifest PUTs
per repository in the registry's log, and `pushed` transitions per image in the store); each
tag still points at the digest the run recorded; every workload runs all its replicas on one
image, the run's new digest (or its old one, rolled back). Exit 1 on any violation.
"""
import argparse, os, random, shutil, socket, sys, tempfile, threading, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import peers  # noqa: E402

FINAL = ("succeeded", "failed")
SERVICES = {"a": ("app-a", 2), "b": ("app-b", 1), "c": ("app-c", 1)}  # service -> (image name, replicas)


class Chaos:
    def __init__(self, args, work):
        self.args, self.work = args, work
        self.registry = self.podman = self.daemon = None
        self.buildah = peers.Buildah(work)
        self.trial_no = 0

    def start_peers(self):
        self.port = peers.free_port()
        self.registry = peers.Registry(self.work, f"http://127.0.0.1:{self.port}/hooks/registry")
        self.podman = peers.Podman([self.registry.host])
        work, args = self.work, self.args
        self.pipeline, self.base, self.images = peers.make_fleet(work, self.registry.host, self.port, self.podman.socket)
        self.daemon = peers.Daemon(args.cascade, self.pipeline, self.port, os.path.join(work, "serve.log"))
        self.buildah_root = os.path.join(work, ".cascade", "buildah")

    # --- setup ---------------------------------------------------------------------------
    def setup(self):
        self.buildah.publish_base(self.base, "v0")
        peers.run([self.args.cascade, "patch", "-p", self.pipeline, self.base, "--no-deploy"])
        for service, (name, replicas) in SERVICES.items():
            image = f"{self.registry.host}/chaos/{name}:1"
            self.podman.pull(image)
            for i in range(replicas):
                self.podman.run_container(f"{service}-{i + 1}", image, service)
        self.daemon.start()

    def image(self, name):
        return f"{self.registry.host}/chaos/{name}:1"

    # --- one trial -----------------------------------------------------------------------
    def snapshot(self):
        runs = self.daemon.get("/api/runs?limit=1")["runs"]
        events = self.daemon.get("/api/events?limit=1")["events"]
        return {"run": runs[0]["id"] if runs else 0, "event": events[0]["id"] if events else 0,
                "log": self.registry.log_size(), "old": self.workload_images()}

    def publish(self):
        self.trial_no += 1
        return self.buildah.publish_base(self.base, f"trial-{self.trial_no}-{random.getrandbits(32):08x}")

    def find_run(self, digest):
        """The runs whose trigger is the pushed base digest (None when the daemon is down)."""
        try:
            runs = self.daemon.get("/api/runs?limit=50")["runs"]
        except OSError:
            return None
        return [r for r in runs if r["trigger"].get("image") == f"{self.base}@{digest}"]

    def wait_final(self, digest, until):
        while time.monotonic() < until:
            found = self.find_run(digest)
            if found and any(r["state"] in FINAL for r in found):
                return True
            time.sleep(0.2)
        return False

    def kill_trial(self, expected):
        before = self.snapshot()
        digest = self.publish()
        pushed = time.monotonic()
        kills, outcome, port_held = [], "", []
        deadline = pushed + self.args.timeout
        next_kill = pushed + random.uniform(0, expected)
        while True:
            finished = False
            while time.monotonic() < next_kill:
                found = self.find_run(digest)
                if found and any(r["state"] in FINAL for r in found):
                    finished = True
                    break
                time.sleep(0.05)
            if finished and kills:
                break
            at = time.monotonic()
            self.daemon.kill9()
            kills.append(at - (pushed if not kills else restarted))
            orphans = peers.processes_mentioning(self.buildah_root)
            if orphans:
                outcome += f"{len(orphans)} build(s) alive after kill {len(kills)}; "
            if finished:
                outcome += "kill after the run ended; "
            refused = self.daemon.start()
            if refused:
                port_held.append(refused)
            restarted = time.monotonic()
            if finished or len(kills) >= self.args.max_kills:
                break
            next_kill = restarted + random.uniform(0, expected)
        completed = self.wait_final(digest, deadline)
        violations = self.check(digest, before, completed)
        if port_held:
            violations.insert(0, f"restart refused its port (Address already in use) for "
                                 f"{', '.join(f'{s:.1f}' for s in port_held)} s: a build outliving the daemon holds it")
        return {"kills": kills, "restarts": len(kills), "outcome": outcome.strip("; "), "violations": violations,
                "seconds": time.monotonic() - pushed}

    def registry_trial(self):
        before = self.snapshot()
        digest = self.publish()
        pushed = time.monotonic()
        until = pushed + 120
        building = False
        while time.monotonic() < until and not building:
            found = self.find_run(digest) or []
            for run in found:
                detail = self.daemon.get(f"/api/runs/{run['id']}")
                building = any(t["state"] in ("building", "pushing", "pushed") for t in detail["tasks"])
            time.sleep(0.1)
        stopped_at = time.monotonic() - pushed
        self.registry.stop()
        time.sleep(10)
        self.registry.start()
        completed = self.wait_final(digest, pushed + self.args.timeout)
        violations = self.check(digest, before, completed)
        if not building:
            violations.append("the run never started building before the registry stop")
        return {"kills": [stopped_at], "restarts": 0, "violations": violations, "seconds": time.monotonic() - pushed,
                "outcome": f"registry stopped at {stopped_at:.1f} s for 10 s"}

    # --- checks --------------------------------------------------------------------------
    def check(self, digest, before, completed):
        problems = []
        found = self.find_run(digest) or []
        if not completed or not found:
            return [f"run for {digest[:19]} not finished within {self.args.timeout} s (see {self.daemon.log_path})"]
        if len(found) != 1:
            problems.append(f"{len(found)} runs for one pushed digest: {[r['id'] for r in found]}")
        run = self.daemon.get(f"/api/runs/{found[0]['id']}")
        if run["state"] != "succeeded":
            failed = [f"{t['image'].split('/')[-1]}: {t['state']} {t.get('error') or ''}" for t in run["tasks"]
                      if t["state"] != "pushed"]
            problems.append(f"run {run['id']} {run['state']}: {failed}")
        problems += self.check_events(before, run["id"])
        problems += self.check_pushes(before, run)
        problems += self.check_workloads(before, run)
        # no other run built anything in the trial
        for other in self.daemon.get("/api/runs?limit=50")["runs"]:
            if other["id"] > before["run"] and other["id"] != run["id"]:
                detail = self.daemon.get(f"/api/runs/{other['id']}")
                built = [t["image"] for t in detail["tasks"] if t["state"] == "pushed"]
                if built:
                    problems.append(f"run {other['id']} ({other['trigger'].get('image')}) also pushed {built}")
        return problems

    def check_events(self, before, run_id):
        # The registry may still deliver notices of the run's last pushes: wait until every
        # event stored since the trial began has been joined or settled, and 3 s went quiet.
        until, quiet_since, last = time.monotonic() + 90, time.monotonic(), None
        while True:
            events = [e for e in self.daemon.get("/api/events?limit=1000")["events"] if e["id"] > before["event"]]
            open_ = [e for e in events if e["run"] is None and e["outcome"] is None]
            key = (len(events), len(open_))
            if key != last:
                last, quiet_since = key, time.monotonic()
            if not open_ and time.monotonic() - quiet_since >= 3:
                break
            if time.monotonic() > until:
                return [f"event {e['id']} ({e['image']}@{(e['digest'] or '')[:19]}) neither joined nor settled"
                        for e in open_] or []
            time.sleep(0.3)
        base_events = [e for e in events if e["image"] == self.base]
        if not base_events:
            return ["no event stored for the base push"]
        return [f"base event {e['id']} settled without the run: {e['outcome']}" for e in base_events
                if e["run"] != run_id and "already" not in (e["outcome"] or "")
                and "nothing to rebuild" not in (e["outcome"] or "")]

    def check_pushes(self, before, run):
        problems = []
        puts = self.registry.manifest_puts(before["log"])
        for repo, count in sorted(puts.items()):
            if count > 1:
                problems.append(f"{repo} pushed {count} times (registry log)")
        pushed = {}
        for t in run["transitions"]:
            if t["to"] == "pushed" and t["image"]:
                pushed[t["image"]] = pushed.get(t["image"], 0) + 1
        for image, count in sorted(pushed.items()):
            if count > 1:
                problems.append(f"{image} pushed {count} times (store transitions)")
        for task in run["tasks"]:
            if task["state"] != "pushed":
                continue
            now = self.tag_digest(task["image"])
            if now != task["new_digest"]:
                problems.append(f"{task['image']} tag is at {str(now)[:19]}, the run recorded {task['new_digest'][:19]}")
        return problems

    def tag_digest(self, image):
        host, _, rest = image.partition("/")
        repo, _, tag = rest.rpartition(":")
        request = urllib.request.Request(f"http://{host}/v2/{repo}/manifests/{tag}", method="HEAD", headers={
            "Accept": "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.headers.get("Docker-Content-Digest")

    def workload_images(self):
        """{service: [image ids of its running containers]}, and the count of stopped ones."""
        out = {}
        for c in self.podman.containers():
            service = (c.get("Labels") or {}).get("com.docker.compose.service")
            if service in SERVICES and c.get("State") == "running":
                out.setdefault(service, []).append(c["ImageID"])
        return out

    def check_workloads(self, before, run):
        problems = []
        tasks = {t["image"]: t for t in run["tasks"]}
        rolled_back = {s["workload"] for s in run["rollouts"] if s["state"] == "rolled_back"}
        now = self.workload_images()
        for service, (name, replicas) in SERVICES.items():
            ids = now.get(service, [])
            if len(ids) != replicas:
                problems.append(f"workload {service}: {len(ids)} running replicas, expected {replicas}")
            if len(set(ids)) > 1:
                problems.append(f"workload {service} half-rolled: replicas on {sorted(i[:12] for i in set(ids))}")
                continue
            task = tasks.get(self.image(name))
            if not ids or not task or not task.get("new_digest"):
                continue
            new_id = self.podman.image_id(f"{self.registry.host}/chaos/{name}@{task['new_digest']}")
            old_ids = set(before["old"].get(service, []))
            if ids[0] == new_id:
                continue
            if ids[0] in old_ids and any(service in w for w in rolled_back):
                continue
            problems.append(f"workload {service} on {ids[0][:12]}: neither the new digest nor rolled back to the old")
        leftovers = [c["Names"] for c in self.podman.containers()
                     if (c.get("Labels") or {}).get("com.docker.compose.service") in SERVICES and c.get("State") != "running"]
        if leftovers:
            problems.append(f"containers left stopped: {leftovers}")
        return problems

    # --- the hanging registry --------------------------------------------------------------
    def hang_trial(self):
        work = os.path.join(self.work, "hang")
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        held, accepted = [], [0]

        def accept():
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                held.append(conn)  # never read, never answered, never closed
                accepted[0] += 1

        threading.Thread(target=accept, daemon=True).start()
        host = f"127.0.0.1:{listener.getsockname()[1]}"
        repo = os.path.join(work, "repos", "fleet")
        os.makedirs(os.path.join(repo, "app"))
        with open(os.path.join(repo, "app", "Dockerfile"), "w") as f:
            f.write(f"FROM {host}/chaos/base:1\nRUN echo app > /app\n")
        git = ["git", "-C", repo, "-c", "user.name=chaos", "-c", "user.email=chaos@localhost"]
        peers.run(["git", "init", "-q", "-b", "main", repo])
        peers.run(git + ["add", "."])
        peers.run(git + ["commit", "-q", "-m", "fleet"])
        port = peers.free_port()
        pipeline = os.path.join(work, "pipeline.yaml")
        with open(pipeline, "w") as f:
            f.write(f"version: 1\nregistries:\n  - host: {host}\n    insecure: true\n"
                    f"sources:\n  - name: fleet\n    git: repos/fleet\n    ref: main\n    images:\n"
                    f"      - image: {host}/chaos/app:1\n        dockerfile: app/Dockerfile\n"
                    f"triggers:\n  listen: 127.0.0.1:{port}\n  debounce: 0s\n  log: json\n"
                    f"  webhooks:\n    - sender: distribution\n      path: registry\n      token_env: CHAOS_HOOK_TOKEN\n")
        daemon = peers.Daemon(self.args.cascade, pipeline, port, os.path.join(work, "serve.log"))
        daemon.start()
        threading.Thread(target=lambda: _quietly(daemon.post, "/api/patch", {"image": f"{host}/chaos/base:1"}),
                         daemon=True).start()
        until = time.monotonic() + 30
        while accepted[0] == 0 and time.monotonic() < until:
            time.sleep(0.05)
        time.sleep(2)  # the daemon is now waiting on the registry
        seconds, code = daemon.sigterm(timeout=max(60, 4 * self.args.grace))
        listener.close()
        for conn in held:
            conn.close()
        violations = []
        if accepted[0] == 0:
            violations.append("the daemon never connected to the hanging registry")
        if code is None:
            violations.append(f"still running {seconds:.1f} s after SIGTERM (killed)")
        elif seconds > self.args.grace + 2:
            violations.append(f"exited {seconds:.1f} s after SIGTERM, over the {self.args.grace} s grace")
        elif code != 0:
            violations.append(f"exit code {code} after SIGTERM")
        return {"kills": [], "restarts": 0, "violations": violations, "seconds": seconds,
                "outcome": f"SIGTERM -> exit {code} in {seconds:.1f} s; {accepted[0]} connection(s) held"}

    def close(self):
        for step in (lambda: self.daemon and self.daemon.alive() and self.daemon.sigterm(timeout=60),
                     lambda: self.podman and self.podman.close(), lambda: self.registry and self.registry.stop(),
                     self.buildah.close):
            try:
                step()
            except Exception as error:  # noqa: BLE001 (teardown goes on)
                print(f"teardown: {error}", file=sys.stderr)


def _quietly(call, *args):
    try:
        call(*args)
    except Exception:  # noqa: BLE001 (the request is expected to hang and be cut)
        pass


def row(name, result):
    kills = ", ".join(f"{k:.1f}" for k in result["kills"]) or "-"
    state = "ok" if not result["violations"] else "VIOLATION"
    text = "; ".join(result["violations"]) or "-"
    return f"| {name} | {kills} | {result['restarts']} | {result['seconds']:.1f} | {state} {result['outcome']} | {text} |"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cascade", default=os.path.join(ROOT, "build", "cascade"))
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--max-kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--grace", type=float, default=10)
    parser.add_argument("--timeout", type=float, default=600, help="seconds a run may take after its push")
    parser.add_argument("--only", choices=("kill", "registry", "hang"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, store)")
    args = parser.parse_args()
    random.seed(args.seed)
    os.makedirs(os.path.join(ROOT, "bench", ".work"), exist_ok=True)
    work = tempfile.mkdtemp(prefix="chaos-", dir=os.path.join(ROOT, "bench", ".work"))
    lines, bad = [], 0
    chaos = Chaos(args, work)
    try:
        chaos.start_peers()
        print(f"work folder {work}; setting up the fleet ...", file=sys.stderr)
        chaos.setup()
        expected = 0.0
        if args.only in (None, "kill"):
            before = chaos.snapshot()
            digest = chaos.publish()
            started = time.monotonic()
            completed = chaos.wait_final(digest, started + args.timeout)
            expected = time.monotonic() - started
            violations = chaos.check(digest, before, completed)
            result = {"kills": [], "restarts": 0, "violations": violations, "seconds": expected,
                      "outcome": "calibration, no fault"}
            lines.append(row("0 (T)", result))
            print(lines[-1], file=sys.stderr)
            bad += bool(violations)
            for trial in range(1, args.trials + 1):
                result = chaos.kill_trial(expected)
                lines.append(row(str(trial), result))
                print(lines[-1], file=sys.stderr)
                bad += bool(result["violations"])
        if args.only in (None, "registry"):
            result = chaos.registry_trial()
            lines.append(row("registry stopped 10 s", result))
            print(lines[-1], file=sys.stderr)
            bad += bool(result["violations"])
        if args.only in (None, "hang"):
            result = chaos.hang_trial()
            lines.append(row("hanging registry, SIGTERM", result))
            print(lines[-1], file=sys.stderr)
            bad += bool(result["violations"])
        print(f"\nchaos: 5-image fleet (3 levels, a diamond), 4 podman workloads; expected run time T = "
              f"{expected:.1f} s; seed {args.seed}\n")
        print("| trial | fault at (s after push / restart) | restarts | push -> end (s) | outcome | violations |")
        print("|---|---|---|---|---|---|")
        for line in lines:
            print(line)
        print(f"\n{bad} trial(s) with violations")
        return 1 if bad else 0
    finally:
        chaos.close()
        if args.keep or bad:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
