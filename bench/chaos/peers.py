"""Real peers for the chaos trials: a docker-registry that can be stopped and started again
on the same port and storage (its push notifications go to the daemon, its access log
counts manifest PUTs), a podman API service, `cascade serve` killed with -9 or stopped
with SIGTERM, a fleet of five images in a git repository, and small HTTP clients for the
daemon's API and the Engine API over the podman socket."""
import http.client, json, os, shutil, signal, socket, subprocess, tempfile, time, urllib.request

HOOK_TOKEN = "chaos-hook-token"
API_TOKEN = "chaos-api-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, seconds=30):
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} does not listen on {port}")


def run(argv, **kw):
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} {' '.join(argv[1:4])}... failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


class Registry:
    """docker-registry serve on a fixed port; stop() and start() keep port and storage."""

    def __init__(self, work, notify_url):
        self.dir = os.path.join(work, "registry")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.dir, "registry.log")
        with open(os.path.join(self.dir, "config.yml"), "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: false\n"
                    f"storage:\n  filesystem:\n    rootdirectory: {self.dir}/data\n  delete:\n    enabled: true\n"
                    f"http:\n  addr: {self.host}\n  secret: chaos\n"
                    f"notifications:\n  endpoints:\n    - name: cascade\n      url: {notify_url}\n"
                    f"      headers:\n        Authorization: [\"Bearer {HOOK_TOKEN}\"]\n"
                    f"      timeout: 2s\n      threshold: 5\n      backoff: 1s\n"
                    f"      ignore:\n        actions: [pull]\n")
        self.proc = None
        self.start()

    def start(self):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(["docker-registry", "serve", os.path.join(self.dir, "config.yml")],
                                     stdout=log, stderr=log)
        log.close()
        wait_port(self.port, self.proc, "docker-registry")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_size(self):
        return os.path.getsize(self.log_path)

    def manifest_puts(self, since):
        """{repository: count} of manifest PUTs answered 201 in the access log after byte `since`."""
        counts = {}
        with open(self.log_path, errors="replace") as f:
            f.seek(since)
            for line in f:
                at = line.find('"PUT /v2/')
                if at < 0 or "/manifests/" not in line:
                    continue
                request, _, rest = line[at + 1:].partition('"')
                if not rest.strip().startswith("201"):
                    continue
                path = request.split()[1]
                repo = path[len("/v2/"):path.index("/manifests/")]
                counts[repo] = counts.get(repo, 0) + 1
        return counts


class Podman:
    """podman system service on a unix socket, private storage (as tests/podman_fixture.hpp)."""

    def __init__(self, insecure_hosts):
        # podman refuses a runroot longer than 50 characters: a short folder under /tmp
        self.dir = tempfile.mkdtemp(prefix="chaos-podman-", dir="/tmp")
        with open(os.path.join(self.dir, "containers.conf"), "w") as f:
            f.write("[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n"
                    "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n")
        with open(os.path.join(self.dir, "registries.conf"), "w") as f:
            for host in insecure_hosts:
                f.write(f"[[registry]]\nlocation = \"{host}\"\ninsecure = true\n")
        self.socket = os.path.join(self.dir, "podman.sock")
        self.env = dict(os.environ, CONTAINERS_CONF=os.path.join(self.dir, "containers.conf"),
                        CONTAINERS_REGISTRIES_CONF=os.path.join(self.dir, "registries.conf"))
        self.storage = ["--root", f"{self.dir}/root", "--runroot", f"{self.dir}/runroot", "--storage-driver", "vfs"]
        log = open(os.path.join(self.dir, "podman.log"), "w")
        self.proc = subprocess.Popen(["podman"] + self.storage + ["system", "service", "--time=0", f"unix://{self.socket}"],
                                     stdout=log, stderr=log, env=self.env)
        until = time.monotonic() + 30
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > until:
                raise RuntimeError("podman system service did not start")
            time.sleep(0.05)

    def call(self, method, path, body=None):
        conn = _UnixConnection(self.socket)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, "/v1.41" + path, body=data, headers={"Content-Type": "application/json"} if data else {})
            answer = conn.getresponse()
            text = answer.read().decode(errors="replace")
            try:
                return answer.status, json.loads(text)
            except ValueError:
                return answer.status, text
        finally:
            conn.close()

    def pull(self, image):
        repo, _, tag = image.rpartition(":")
        status, body = self.call("POST", f"/images/create?fromImage={repo}&tag={tag}")
        if status != 200 or "error" in str(body)[:4000].lower():
            raise RuntimeError(f"pull {image}: {status} {str(body)[:500]}")

    def run_container(self, name, image, service):
        body = {"Image": image, "Cmd": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
                "Labels": {"com.docker.compose.project": "chaos", "com.docker.compose.service": service},
                "StopTimeout": 1, "HostConfig": {"NetworkMode": "none"}}
        status, created = self.call("POST", f"/containers/create?name={name}", body)
        if status != 201:
            raise RuntimeError(f"create {name}: {status} {created}")
        status, _ = self.call("POST", f"/containers/{created['Id']}/start")
        if status != 204:
            raise RuntimeError(f"start {name}: {status}")

    def containers(self):
        status, body = self.call("GET", "/containers/json?all=true")
        if status != 200:
            raise RuntimeError(f"list containers: {status}")
        return body

    def image_id(self, reference):
        status, body = self.call("GET", f"/images/{reference}/json")
        return body.get("Id") if status == 200 and isinstance(body, dict) else None

    def close(self):
        subprocess.run(["podman"] + self.storage + ["rm", "--all", "--force", "--time", "0"], env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=120)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(120)
        self.sock.connect(self.path)


class Daemon:
    """`cascade serve -p PIPELINE`, its log appended to one file across restarts."""

    def __init__(self, cascade, pipeline, port, log_path):
        self.cascade, self.pipeline, self.port, self.log_path = cascade, pipeline, port, log_path
        self.proc = None
        self.starts = 0

    def start(self, bind_patience=300):
        """Starts the daemon and waits for /healthz; returns the seconds it spent refused its
        port ("Address already in use": something else still holds it), retrying meanwhile."""
        started, refused = time.monotonic(), False
        while True:
            if self._start_once():
                return time.monotonic() - started if refused else 0.0
            refused = True
            if time.monotonic() - started > bind_patience:
                raise RuntimeError(f"cascade serve could not bind its port for {bind_patience} s; see {self.log_path}")
            time.sleep(0.5)

    def _start_once(self):
        env = dict(os.environ, CHAOS_HOOK_TOKEN=HOOK_TOKEN, CASCADE_API_TOKEN=API_TOKEN)
        offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([self.cascade, "serve", "-p", self.pipeline], stdout=log, stderr=log, env=env)
        log.close()
        self.starts += 1
        until = time.monotonic() + 60
        while time.monotonic() < until:
            if self.proc.poll() is not None:
                with open(self.log_path, errors="replace") as f:
                    f.seek(offset)
                    if "Address already in use" in f.read():
                        return False
                raise RuntimeError(f"cascade serve exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if self.get_text("/healthz").strip() == "ok":
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("cascade serve did not answer /healthz")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def sigterm(self, timeout=120):
        """SIGTERM; returns (seconds to exit, exit code), the code None when it had to be killed."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        return time.monotonic() - started, code

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def get_text(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as answer:
            return answer.read().decode()

    def get(self, path):
        return json.loads(self.get_text(path))

    def post(self, path, body, token=API_TOKEN):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method="POST",
                                         data=json.dumps(body).encode(),
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read().decode())


def make_fleet(work, host, daemon_port, podman_socket):
    """A git repository with five images on one external base, three levels and a diamond
    (app-b is built on runtime and copies from tools); the pipeline beside it. Returns
    (pipeline path, base image, [fleet images])."""
    repo = os.path.join(work, "repos", "fleet")
    files = {
        "runtime/Dockerfile": f"FROM {host}/chaos/base:1\nRUN echo runtime > /runtime\n",
        "tools/Dockerfile": f"FROM {host}/chaos/base:1\nRUN echo tools > /tools\n",
        "app-a/Dockerfile": f"FROM {host}/chaos/runtime:1\nRUN echo a > /app\n",
        "app-b/Dockerfile": f"FROM {host}/chaos/runtime:1\nCOPY --from={host}/chaos/tools:1 /tools /tools\n"
                            f"RUN echo b > /app\n",
        "app-c/Dockerfile": f"FROM {host}/chaos/tools:1\nRUN echo c > /app\n",
    }
    for path, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(repo, path)), exist_ok=True)
        with open(os.path.join(repo, path), "w") as f:
            f.write(text)
    git = ["git", "-C", repo, "-c", "user.name=chaos", "-c", "user.email=chaos@localhost"]
    run(["git", "init", "-q", "-b", "main", repo])
    run(git + ["add", "."])
    run(git + ["commit", "-q", "-m", "fleet"])
    images = [f"{host}/chaos/{name}:1" for name in ("runtime", "tools", "app-a", "app-b", "app-c")]
    recipes = "".join(f"      - image: {image}\n        dockerfile: {image.split('/')[-1].split(':')[0]}/Dockerfile\n"
                      for image in images)
    pipeline = os.path.join(work, "pipeline.yaml")
    with open(pipeline, "w") as f:
        f.write(f"version: 1\nregistries:\n  - host: {host}\n    insecure: true\n"
                f"sources:\n  - name: fleet\n    git: repos/fleet\n    ref: main\n    images:\n{recipes}"
                f"deploy:\n  - name: podman\n    kind: docker\n    endpoint: unix://{podman_socket}\n"
                f"    rollout: {{batch: 1, max_unavailable: 1, health_timeout: 60s, stable_for: 1s}}\n"
                f"triggers:\n  listen: 127.0.0.1:{daemon_port}\n  debounce: 1s\n  parallel: 2\n  log: json\n"
                f"  webhooks:\n    - sender: distribution\n      path: registry\n      token_env: CHAOS_HOOK_TOKEN\n")
    return pipeline, f"{host}/chaos/base:1", images


class Buildah:
    """buildah on its own storage, for publishing the base as another team's pipeline would."""

    def __init__(self, work):
        self.dir = os.path.join(work, "buildah")
        self.storage = ["buildah", "--root", f"{self.dir}/root", "--runroot", f"{self.dir}/runroot",
                        "--storage-driver", "vfs"]

    def publish_base(self, image, label):
        """Builds a busybox base whose last layer says `label`, pushes it over `image`; returns the digest."""
        context = os.path.join(self.dir, "ctx-" + label)
        os.makedirs(context, exist_ok=True)
        shutil.copy("/usr/bin/busybox", context)
        with open(os.path.join(context, "Dockerfile"), "w") as f:
            f.write("FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\n"
                    f"RUN echo {label} > /etc/patch\n")
        run(self.storage + ["bud", "--quiet", "--isolation", "chroot", "--format", "docker", "-t", image, context])
        digest_file = os.path.join(self.dir, f"{label}.digest")
        run(self.storage + ["push", "--quiet", "--tls-verify=false", "--digestfile", digest_file, image,
                            f"docker://{image}"])
        shutil.rmtree(context, ignore_errors=True)
        with open(digest_file) as f:
            return f.read().strip()

    def close(self):
        subprocess.run(self.storage + ["rm", "--all"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def processes_mentioning(needle):
    """pids of live processes whose command line mentions `needle` (orphaned builds)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if needle.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found
