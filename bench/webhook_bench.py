#!/usr/bin/env python3
"""Webhook intake under load: `wrk` (keep-alive, 2 threads, C connections) posts registry
notifications to `cascade serve` on loopback, each one a distinct event (its own id and
digest) that the daemon must store durably (SQLite, WAL, synchronous=FULL, group commit)
and deduplicate before it answers 202. In the same run, the same wrk script against
`plain_server`: the same Beast server with a handler that answers at once, doing nothing,
as the ceiling. Then checks that every accepted event is in the store.

The daemon runs on the example fleet with a debounce of an hour, so the burst coalesces into
one pending cascade and no build competes with the intake for the 2 cores.

    bench/webhook_bench.py [--build build-bench] [--seconds 10] [--connections 32] [--runs 3]
"""
import argparse, json, os, re, shutil, signal, socket, sqlite3, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    for _ in range(400):
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.025)
    raise SystemExit(f"{what} did not listen on {port}")


def wrk(port, seconds, connections, env):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
                          os.path.join(HERE, "webhook.lua"), f"http://127.0.0.1:{port}/hooks/registry"],
                         capture_output=True, text=True, env=env, check=True).stdout
    match = re.search(r"BENCH_JSON (\{.*\})", out)
    if not match:
        raise SystemExit("wrk printed no summary:\n" + out)
    result = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    subprocess.run(["cmake", "-S", ROOT, "-B", args.build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                    "-DCASCADE_BENCH=ON", "-DBUILD_TESTING=OFF"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", args.build, "cascade", "plain_server"], check=True, stdout=subprocess.DEVNULL)
    cascade = os.path.join(args.build, "cascade")
    plain = os.path.join(args.build, "bench", "plain_server")

    work = tempfile.mkdtemp(prefix="webhook-bench-", dir=os.path.join(ROOT, "bench", ".work")
                            if os.path.isdir(os.path.join(ROOT, "bench", ".work")) else None)
    try:
        repos = os.path.join(work, "repos")
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "make-example-repos.sh"), repos], check=True,
                       stdout=subprocess.DEVNULL, env=dict(os.environ, CASCADE_EXAMPLE_REGISTRY="127.0.0.1:5000"))
        with open(os.path.join(ROOT, "pipelines", "example.yaml")) as f:
            text = f.read().replace("../examples/.repos/", repos + "/")
        port = free_port()
        text += (f"triggers:\n  listen: 127.0.0.1:{port}\n  debounce: 1h\n  webhooks:\n"
                 f"    - sender: distribution\n      path: registry\n      token_env: BENCH_TOKEN\n")
        pipeline = os.path.join(work, "pipeline.yaml")
        with open(pipeline, "w") as f:
            f.write(text)
        env = dict(os.environ, BENCH_TOKEN="bench-token", BENCH_REGISTRY="127.0.0.1:5000")

        rows = []
        for run in range(args.runs):
            plain_port = free_port()
            server = subprocess.Popen([plain, str(plain_port), "2"], stdout=subprocess.DEVNULL)
            wait_port(plain_port, server, "plain_server")
            ceiling = wrk(plain_port, args.seconds, args.connections, env)
            server.send_signal(signal.SIGTERM)
            server.wait()

            state = os.path.join(work, ".cascade")
            shutil.rmtree(state, ignore_errors=True)
            daemon = subprocess.Popen([cascade, "serve", "-p", pipeline], stdout=subprocess.DEVNULL,
                                      stderr=open(os.path.join(work, f"serve-{run}.log"), "w"), env=env)
            wait_port(port, daemon, "cascade serve")
            intake = wrk(port, args.seconds, args.connections, env)
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
            stored = sqlite3.connect(os.path.join(state, "state.db")).execute("SELECT count(*) FROM events").fetchone()[0]
            accepted = intake["requests"] - intake["errors_status"]
            rows.append((ceiling, intake, stored, accepted))

        print(f"\nwebhook intake, wrk -t2 -c{args.connections} -d{args.seconds}s, keep-alive, "
              f"distribution notifications (~1 KB), {os.cpu_count()} cores shared by wrk and the server\n")
        print("| run | server | requests/s | p50 ms | p99 ms | non-2xx | events stored |")
        print("|---|---|---|---|---|---|---|")
        for i, (ceiling, intake, stored, accepted) in enumerate(rows, 1):
            print(f"| {i} | plain Beast, 200 at once (ceiling) | {ceiling['rps']:,.0f} | {ceiling['p50_us']/1000:.2f} | "
                  f"{ceiling['p99_us']/1000:.2f} | {ceiling['errors_status']} | - |")
            print(f"| {i} | cascade serve /hooks/registry | {intake['rps']:,.0f} | {intake['p50_us']/1000:.2f} | "
                  f"{intake['p99_us']/1000:.2f} | {intake['errors_status']} | {stored:,} of {accepted:,} |")
        best = max(rows, key=lambda r: r[1]["rps"])
        median = sorted(rows, key=lambda r: r[1]["rps"])[len(rows) // 2]
        ratio = median[1]["rps"] / median[0]["rps"]
        print(f"\nmedian run: cascade {median[1]['rps']:,.0f} req/s = {ratio:.2f} of the ceiling "
              f"({median[0]['rps']:,.0f}); p99 {median[1]['p99_us']/1000:.2f} ms")
        goal_rps = median[1]["rps"] >= 20000
        goal_p99 = median[1]["p99_us"] < 10000
        durable = all(stored >= accepted for _, _, stored, accepted in rows)  # in flight when wrk stopped: stored, unanswered
        print(f"goal >= 20,000 req/s: {'PASS' if goal_rps else 'FAIL'};  goal p99 < 10 ms: "
              f"{'PASS' if goal_p99 else 'FAIL'};  every accepted event stored: {'yes' if durable else 'NO'}")
        print(f"(best run: {best[1]['rps']:,.0f} req/s)")
        return 0 if durable else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
