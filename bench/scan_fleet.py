#!/usr/bin/env python3
"""A registry fleet for `bench/scan_bench.py`: 1,000 images (by default) pushed straight into a
docker-registry with its HTTP API, shaped like a real fleet, plus the git repository of their
Dockerfiles and the pipeline file naming them.

Shape (deterministic for --seed and this machine's /var/lib/dpkg/status):

  bases   base/debian:12     one gzip layer, ~6 MB: this machine's dpkg status (minus a pool
                             of packages some images install themselves), var/lib/dpkg/info
                             lists, usr/lib/os-release (etc/os-release a link to it), filler
          base/ubuntu:24.04  the same database, ubuntu's os-release, ~5 MB
          base/alpine:3.20   lib/apk/db/installed (15 packages, no bash), ~3 MB
  images  fleet/app-NNNN:1   on a base (45 % debian, 30 % ubuntu, 25 % alpine), each with 1-2
                             small own gzip layers: the app (COPY), and for half of them either
                             a package install (a new dpkg status with 1-3 more packages, or an
                             apk database with bash added) or a config layer

The changed base of the warm rescan is base/debian: variant A is the one generated first,
variant B is a new version of its layer (bash at a higher Debian revision, a different
usr/bin/bash). `flip(VARIANT)` pushes that base layer, a new config for the base and for every
image on it, and their manifests (same own layers), so the tags resolve to new digests.

Blobs are pushed with the distribution API over keep-alive connections (http.client, the
standard library; 8 threads): monolithic upload (POST, then PUT ?digest=), a cross-repository
mount for base layers, manifests as Docker v2 schema 2. Nothing but the base layers (kept to
re-push them) is written locally.

    bench/scan_fleet.py --registry 127.0.0.1:PORT --out DIR [--images 1000] [--seed 1] [--force]

OUT/fleet.json holds the parameters (a rerun with the same ones and the same registry storage
does nothing), the layers of every image and base, and what a scan must find.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gzip
import hashlib
import http.client
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import threading
import time
import urllib.parse

DPKG_STATUS = "/var/lib/dpkg/status"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MTIME = 1700000000
CHANGED_BASE = "debian"
THREADS = 8

# name, repository, tag, package format, share of the fleet, filler bytes of random data
BASES = [
    ("debian", "base/debian", "12", "dpkg", 45, 9_500_000),
    ("ubuntu", "base/ubuntu", "24.04", "dpkg", 30, 7_600_000),
    ("alpine", "base/alpine", "3.20", "apk", 25, 4_000_000),
]

OS_RELEASE = {
    "debian": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
              'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL="https://www.debian.org/"\n',
    "ubuntu": 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION="24.04.1 LTS (Noble Numbat)"\n'
              'VERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\nHOME_URL="https://www.ubuntu.com/"\n',
    "alpine": 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME="Alpine Linux v3.20"\n'
              'HOME_URL="https://alpinelinux.org/"\n',
}

# alpine 3.20's base packages, and what `apk add bash` brings
ALPINE_BASE = [("alpine-baselayout", "3.6.5-r0"), ("alpine-baselayout-data", "3.6.5-r0"), ("alpine-keys", "2.4-r1"),
               ("apk-tools", "2.14.4-r1"), ("busybox", "1.36.1-r29"), ("busybox-binsh", "1.36.1-r29"),
               ("ca-certificates-bundle", "20240705-r0"), ("libcrypto3", "3.3.2-r0"), ("libssl3", "3.3.2-r0"),
               ("musl", "1.2.5-r0"), ("musl-utils", "1.2.5-r0"), ("scanelf", "1.3.7-r2"), ("ssl_client", "1.36.1-r29"),
               ("zlib", "1.3.1-r1"), ("libc-utils", "0.7.2-r5")]
ALPINE_BASH = [("ncurses-terminfo-base", "6.4_p20240420-r1"), ("libncursesw", "6.4_p20240420-r1"),
               ("readline", "8.2.10-r0"), ("bash", "5.2.26-r0")]

WORDS = ("alpha beta gamma delta ledger billing search cache queue auth report export import gateway "
         "notify render stream index batch metric audit profile session payment invoice catalog order").split()


# ---------------------------------------------------------------- layers

def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blobby(rng: random.Random, size: int) -> bytes:
    """Content shaped like a binary: half random bytes, half repetitive (compresses ~2x)."""
    half = size // 2
    pattern = rng.randbytes(64)
    return rng.randbytes(half) + (pattern * (size // 64 + 1))[: size - half]


def texty(rng: random.Random, size: int) -> bytes:
    words = [rng.choice(WORDS) for _ in range(size // 6 + 1)]
    return " ".join(words).encode()[:size]


def make_layer(files: list[tuple]) -> dict:
    """files: (path, bytes) or (path, None, link target). Returns the gzip blob and its ids."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = set()
        for entry in files:
            parts = entry[0].split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
                    tar.addfile(info)
        for entry in files:
            info = tarfile.TarInfo(entry[0])
            info.mtime = MTIME
            if len(entry) == 3:
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, entry[2], 0o777
                tar.addfile(info)
            else:
                info.size, info.mode = len(entry[1]), 0o755 if "/bin/" in entry[0] else 0o644
                tar.addfile(info, io.BytesIO(entry[1]))
    tar_bytes = raw.getvalue()
    blob = gzip.compress(tar_bytes, compresslevel=6, mtime=0)
    return {"blob": blob, "digest": sha256(blob), "size": len(blob), "diff_id": sha256(tar_bytes)}


def read_dpkg_status() -> list[tuple[str, str]]:
    with open(DPKG_STATUS, encoding="utf-8") as f:
        stanzas = [s.strip("\n") for s in f.read().split("\n\n") if s.strip()]
    out = []
    for s in stanzas:
        name = next((line[9:] for line in s.splitlines() if line.startswith("Package: ")), None)
        if name:
            out.append((name, s))
    return out


def field(stanza: str, key: str) -> str:
    return next((line[len(key) + 2:] for line in stanza.splitlines() if line.startswith(key + ": ")), "")


def install_pool(stanzas: list[tuple[str, str]]) -> list[str]:
    """Packages left out of the dpkg bases, installed by some images themselves."""
    optional = sorted(n for n, s in stanzas if field(s, "Priority") == "optional" and not field(s, "Essential")
                      and n != "bash")
    return optional[:: max(1, len(optional) // 24)][:24]


def with_bash_version(stanza: str, version: str) -> str:
    return "\n".join(f"Version: {version}" if line.startswith("Version: ") else line for line in stanza.splitlines())


def dpkg_status(stanzas, include) -> bytes:
    return ("\n\n".join(s for n, s in stanzas if n in include) + "\n").encode()


def apk_block(name: str, version: str) -> str:
    digest = hashlib.sha1(f"{name}-{version}".encode()).hexdigest()
    return (f"C:Q1{hashlib.sha1(name.encode()).hexdigest()[:26]}=\nP:{name}\nV:{version}\nA:x86_64\nS:102400\n"
            f"I:409600\nT:{name} package\nU:https://alpinelinux.org\nL:MIT\no:{name}\n"
            f"m:Natanael Copa <ncopa@alpinelinux.org>\nt:1718000000\nc:{digest}\nF:usr/lib\nR:lib{name}.so\n"
            f"a:0:0:755\nZ:Q1{digest[:27]}=\n\n")


def base_layer(seed: int, name: str, fmt: str, filler: int, variant: str, stanzas, pool) -> dict:
    rng = random.Random(f"{seed}:base:{name}")  # the same filler for both variants
    files: list[tuple] = [("usr/lib/os-release", OS_RELEASE[name].encode()), ("etc/os-release", None, "../usr/lib/os-release")]
    if fmt == "dpkg":
        keep = [(n, s) for n, s in stanzas if n not in pool]
        if variant == "B":  # the fixed bash: a higher Debian revision
            keep = [(n, with_bash_version(s, field(s, "Version") + "+deb12u1") if n == "bash" else s) for n, s in keep]
        files.append(("var/lib/dpkg/status", dpkg_status(keep, {n for n, _ in keep})))
        files.append(("etc/debian_version", b"12.8\n"))
        for n, _ in keep:
            files.append((f"var/lib/dpkg/info/{n}.list", f"/.\n/usr\n/usr/share\n/usr/share/doc/{n}\n".encode()))
            files.append((f"usr/share/doc/{n}/copyright", texty(rng, rng.randint(300, 3000))))
        names = [n for n, _ in keep]
    else:
        installed = "".join(apk_block(n, v) for n, v in ALPINE_BASE)
        files += [("lib/apk/db/installed", installed.encode()), ("etc/alpine-release", b"3.20.3\n"),
                  ("etc/apk/world", "\n".join(n for n, _ in ALPINE_BASE[:5]).encode() + b"\n")]
        names = [n for n, _ in ALPINE_BASE]
    # binaries and libraries: the random part of the filler
    budget, i = filler, 0
    while budget > 0:
        size = min(budget, rng.randint(4_000, 120_000))
        where = "usr/bin" if i % 3 == 0 else "usr/lib/x86_64-linux-gnu"
        stem = names[i % len(names)]
        path = f"{where}/{stem}-{i}" if where == "usr/bin" else f"{where}/lib{stem}-{i}.so.1"
        files.append((path, blobby(rng, size)))
        budget -= size
        i += 1
    if variant == "B":
        files.append(("usr/bin/bash", blobby(random.Random(f"{seed}:bash:B"), 1_300_000)))
    else:
        files.append(("usr/bin/bash", blobby(random.Random(f"{seed}:bash:A"), 1_300_000)))
    return make_layer(files)


def own_layers(seed: int, index: int, base: str, stanzas, pool, base_keep_names) -> tuple[list[dict], list[str], list[str]]:
    """An image's own layers, the Dockerfile lines making them, and the packages it installs."""
    rng = random.Random(f"{seed}:image:{index}")
    name = f"app-{index:04d}"
    layers, lines, installed = [], [], []
    second = rng.random() < 0.5
    install = second and rng.random() < 0.4
    if install:
        if base == "alpine":
            db = "".join(apk_block(n, v) for n, v in ALPINE_BASE + ALPINE_BASH)
            files = [("lib/apk/db/installed", db.encode()), ("usr/bin/bash", blobby(rng, 300_000)),
                     ("etc/apk/world", b"bash\n")]
            lines.append("RUN apk add --no-cache bash")
            installed = [n for n, _ in ALPINE_BASH]
        else:
            installed = sorted(rng.sample(pool, rng.randint(1, 3)))
            files = [("var/lib/dpkg/status", dpkg_status(stanzas, set(base_keep_names) | set(installed)))]
            for n in installed:
                files.append((f"var/lib/dpkg/info/{n}.list", f"/.\n/usr/bin/{n}\n".encode()))
                files.append((f"usr/bin/{n}", blobby(rng, rng.randint(20_000, 200_000))))
            lines.append("RUN apt-get update && apt-get install -y --no-install-recommends " + " ".join(installed) +
                         " && rm -rf /var/lib/apt/lists/*")
        layers.append(make_layer(files))
    files = [(f"srv/{name}/VERSION", f"{index}.0.{rng.randint(0, 99)}\n".encode())]
    for j in range(rng.randint(2, 10)):
        size = rng.randint(1_000, 40_000)
        files.append((f"srv/{name}/{rng.choice(WORDS)}-{j}.{rng.choice(['py', 'js', 'jar', 'bin'])}",
                      blobby(rng, size) if j % 2 else texty(rng, size)))
    layers.append(make_layer(files))
    lines.append(f"COPY app/ /srv/{name}/")
    if second and not install:
        files = [(f"etc/{name}/{k}.yaml", texty(rng, rng.randint(200, 4000))) for k in ("config", "logging", "features")]
        layers.append(make_layer(files))
        lines.append(f"COPY config/ /etc/{name}/")
    return layers, lines, installed


def config_blob(name: str, diff_ids: list[str]) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-11-01T00:00:00Z",
                       "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                                  "Labels": {"bench.image": name}},
                       "rootfs": {"type": "layers", "diff_ids": diff_ids}}, sort_keys=True).encode()


def manifest_blob(config: bytes, layers: list[dict]) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE,
                       "config": {"mediaType": CONFIG_TYPE, "size": len(config), "digest": sha256(config)},
                       "layers": [{"mediaType": LAYER_TYPE, "size": l["size"], "digest": l["digest"]} for l in layers]},
                      indent=3).encode()


# ---------------------------------------------------------------- registry API

class Registry:
    """The distribution API over one keep-alive connection per thread."""

    def __init__(self, host: str):
        self.host = host
        self.local = threading.local()

    def call(self, method: str, target: str, body: bytes | None = None, headers: dict | None = None,
             expect=(200,)) -> http.client.HTTPResponse:
        for attempt in range(3):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(self.host, timeout=120)
            try:
                conn.request(method, target, body=body, headers=headers or {})
                answer = conn.getresponse()
                answer.data = answer.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
                continue
            if answer.status not in expect:
                raise RuntimeError(f"{method} {target}: HTTP {answer.status}: {answer.data[:300]!r}")
            return answer
        raise AssertionError("unreachable")

    def upload(self, repo: str, blob: bytes, digest: str) -> None:
        started = self.call("POST", f"/v2/{repo}/blobs/uploads/", expect=(202,))
        location = urllib.parse.urlsplit(started.getheader("Location"))
        query = (location.query + "&" if location.query else "") + "digest=" + urllib.parse.quote(digest)
        self.call("PUT", f"{location.path}?{query}", body=blob,
                  headers={"Content-Type": "application/octet-stream"}, expect=(201,))

    def mount(self, repo: str, digest: str, source: str) -> bool:
        answer = self.call("POST", f"/v2/{repo}/blobs/uploads/?mount={urllib.parse.quote(digest)}&from={source}",
                           expect=(201, 202))
        if answer.status == 202:  # not mounted: cancel the upload session it opened
            location = urllib.parse.urlsplit(answer.getheader("Location"))
            self.call("DELETE", location.path + ("?" + location.query if location.query else ""), expect=(204, 404))
        return answer.status == 201

    def put_manifest(self, repo: str, tag: str, body: bytes) -> str:
        answer = self.call("PUT", f"/v2/{repo}/manifests/{tag}", body=body,
                           headers={"Content-Type": MANIFEST_TYPE}, expect=(201,))
        return answer.getheader("Docker-Content-Digest") or sha256(body)


# ---------------------------------------------------------------- the fleet

def stamp_of(images: int, seed: int) -> dict:
    with open(__file__, "rb") as f:
        generator = hashlib.sha256(f.read()).hexdigest()
    with open(DPKG_STATUS, "rb") as f:
        status = hashlib.sha256(f.read()).hexdigest()
    return {"images": images, "seed": seed, "generator_sha256": generator, "dpkg_status_sha256": status}


def layer_ref(layer: dict) -> dict:
    return {k: layer[k] for k in ("digest", "size", "diff_id")}


def base_of(index: int, seed: int) -> str:
    rng = random.Random(f"{seed}:base-of:{index}")
    return rng.choices([b[0] for b in BASES], weights=[b[4] for b in BASES])[0]


def push_image(reg: Registry, meta: dict, image: dict, variant: str, own: list[dict] | None = None) -> str:
    """Pushes an image's own layers (when given), its config and manifest on its base's `variant`."""
    base = meta["bases"][image["base"]]
    base_layer_ref = base["variants"][variant]
    if own is not None:
        for layer in own:
            reg.upload(image["repo"], layer["blob"], layer["digest"])
    if not reg.mount(image["repo"], base_layer_ref["digest"], base["repo"]):
        raise RuntimeError(f"could not mount {base_layer_ref['digest']} from {base['repo']} into {image['repo']}")
    layers = [base_layer_ref] + image["layers"]
    config = config_blob(image["name"], [l["diff_id"] for l in layers])
    reg.upload(image["repo"], config, sha256(config))
    return reg.put_manifest(image["repo"], image["tag"], manifest_blob(config, layers))


def push_base(reg: Registry, out: str, meta: dict, name: str, variant: str) -> str:
    base = meta["bases"][name]
    layer = base["variants"][variant]
    with open(os.path.join(out, "blobs", layer["digest"].split(":")[1]), "rb") as f:
        blob = f.read()
    reg.upload(base["repo"], blob, layer["digest"])
    config = config_blob(base["repo"], [layer["diff_id"]])
    reg.upload(base["repo"], config, sha256(config))
    return reg.put_manifest(base["repo"], base["tag"], manifest_blob(config, [layer]))


def generate(out: str, host: str, images: int, seed: int, log=print) -> dict:
    """Builds every layer and pushes the whole fleet (variant A). Returns the metadata."""
    started = time.monotonic()
    reg = Registry(host)
    stanzas = read_dpkg_status()
    if not any(n == "bash" for n, _ in stanzas):
        raise SystemExit(f"{DPKG_STATUS} has no bash: the benchmark's query needs it")
    pool = install_pool(stanzas)
    base_keep = [n for n, _ in stanzas if n not in pool]
    os.makedirs(os.path.join(out, "blobs"), exist_ok=True)
    meta = {"stamp": stamp_of(images, seed), "changed_base": CHANGED_BASE, "bases": {}, "images": []}

    def build_base(spec):
        name, repo, tag, fmt, _, filler = spec
        variants = {}
        for variant in ("A", "B") if name == CHANGED_BASE else ("A",):
            layer = base_layer(seed, name, fmt, filler, variant, stanzas, pool)
            with open(os.path.join(out, "blobs", layer["digest"].split(":")[1]), "wb") as f:
                f.write(layer["blob"])
            variants[variant] = layer_ref(layer)
        return name, {"repo": repo, "tag": tag, "format": fmt, "variants": variants}

    with concurrent.futures.ThreadPoolExecutor(max_workers=THREADS) as pool_exec:
        for name, base in pool_exec.map(build_base, BASES):
            meta["bases"][name] = base
        for name in meta["bases"]:
            push_base(reg, out, meta, name, "A")
        sizes = ", ".join(f"{n} {b['variants']['A']['size'] / 1e6:.1f} MB" for n, b in meta["bases"].items())
        log(f"scan_fleet: 3 bases pushed ({sizes}) in {time.monotonic() - started:.1f}s")

        def build_image(index):
            base = base_of(index, seed)
            name = f"app-{index:04d}"
            own, lines, installed = own_layers(seed, index, base, stanzas, pool, base_keep)
            image = {"name": name, "repo": f"fleet/{name}", "tag": "1", "base": base, "lines": lines,
                     "installs": installed, "layers": [layer_ref(l) for l in own]}
            push_image(reg, meta, image, "A", own)
            return image

        meta["images"] = list(pool_exec.map(build_image, range(images)))
    layers = sum(len(i["layers"]) for i in meta["images"])
    own_bytes = sum(l["size"] for i in meta["images"] for l in i["layers"])
    log(f"scan_fleet: {images} images, {layers} own layers ({own_bytes / 1e6:.1f} MB) pushed to {host} "
        f"in {time.monotonic() - started:.1f}s")
    return meta


def flip(out: str, host: str, meta: dict, variant: str) -> tuple[int, float]:
    """Points the changed base and every image on it at `variant`. Returns (images, seconds)."""
    started = time.monotonic()
    reg = Registry(host)
    push_base(reg, out, meta, meta["changed_base"], variant)
    on_base = [i for i in meta["images"] if i["base"] == meta["changed_base"]]
    with concurrent.futures.ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(lambda image: push_image(reg, meta, image, variant), on_base))
    with open(os.path.join(out, "current.json"), "w") as f:
        json.dump({"variant": variant}, f)
    return len(on_base), time.monotonic() - started


def current_variant(out: str) -> str:
    try:
        with open(os.path.join(out, "current.json")) as f:
            return json.load(f)["variant"]
    except (OSError, ValueError, KeyError):
        return "?"


def ensure(out: str, host: str, registry_root: str, images: int, seed: int, force: bool = False, log=print) -> dict:
    """The fleet in the registry, variant A: generated unless already there with the same
    parameters; flipped back to A when a previous run left it on B."""
    path = os.path.join(out, "fleet.json")
    try:
        with open(path) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        meta = None
    fresh = (meta is None or force or meta.get("stamp") != stamp_of(images, seed)
             or not os.path.isdir(os.path.join(registry_root, "docker")))
    if fresh:
        os.makedirs(out, exist_ok=True)
        if os.path.exists(path):
            os.remove(path)
        meta = generate(out, host, images, seed, log)
        with open(os.path.join(out, "current.json"), "w") as f:
            json.dump({"variant": "A"}, f)
        with open(path, "w") as f:
            json.dump(meta, f)
    else:
        log(f"scan_fleet: {images} images already in the registry (same parameters); nothing to push")
        if current_variant(out) != "A":
            count, seconds = flip(out, host, meta, "A")
            log(f"scan_fleet: {meta['changed_base']} and its {count} images pointed back at variant A in {seconds:.1f}s")
    return meta


# ---------------------------------------------------------------- git and pipeline

def git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                "GIT_AUTHOR_NAME": "Bench Fleet", "GIT_AUTHOR_EMAIL": "bench@bench.local",
                "GIT_COMMITTER_NAME": "Bench Fleet", "GIT_COMMITTER_EMAIL": "bench@bench.local",
                "GIT_AUTHOR_DATE": f"{MTIME} +0000", "GIT_COMMITTER_DATE": f"{MTIME} +0000", "LC_ALL": "C"})
    return env


def dockerfile(host: str, meta: dict, image: dict) -> str:
    base = meta["bases"][image["base"]]
    return (f"# {image['name']}: built on {image['base']}\nFROM {host}/{base['repo']}:{base['tag']}\n"
            + "\n".join(image["lines"]) + f'\nCMD ["/srv/{image["name"]}/run"]\n')


def write_git(out: str, host: str, meta: dict) -> tuple[str, str]:
    """A bare repository with services/<image>/Dockerfile per image (one commit, fast-import)
    and the pipeline naming them; redone only when the registry address or the fleet changed."""
    repo = os.path.join(out, "git", "fleet.git")
    pipeline = os.path.join(out, "fleet.yaml")
    key = hashlib.sha256(json.dumps([host, meta["stamp"]], sort_keys=True).encode()).hexdigest()
    stamp = os.path.join(out, "git", ".stamp")
    if os.path.exists(stamp) and open(stamp).read() == key and os.path.exists(pipeline):
        return repo, pipeline
    subprocess.run(["rm", "-rf", os.path.join(out, "git")], check=True)
    env = git_env()
    subprocess.run(["git", "init", "-q", "--bare", "--template=", "--initial-branch=main", repo], env=env, check=True)
    stream = bytearray(b"commit refs/heads/main\n")
    stream += f"author Bench Fleet <bench@bench.local> {MTIME} +0000\n".encode()
    stream += f"committer Bench Fleet <bench@bench.local> {MTIME} +0000\n".encode()
    message = f"{len(meta['images'])} services\n".encode()
    stream += b"data %d\n" % len(message) + message + b"\n"
    for image in meta["images"]:
        data = dockerfile(host, meta, image).encode()
        stream += f"M 100644 inline services/{image['name']}/Dockerfile\n".encode() + b"data %d\n" % len(data) + data + b"\n"
    stream += b"done\n"
    subprocess.run(["git", "-C", repo, "fast-import", "--quiet", "--done"], input=bytes(stream), env=env, check=True,
                   stdout=subprocess.DEVNULL)
    with open(pipeline, "w") as f:
        f.write(f"# made by bench/scan_fleet.py: {len(meta['images'])} images in {host}\n"
                f"version: 1\nstate: {os.path.join(out, 'state', 'state.db')}\ncache: {os.path.join(out, 'cache')}\n"
                f"registries:\n  - host: {host}\n    insecure: true\n"
                f"sources:\n  - name: fleet\n    git: {repo}\n    ref: main\n    discover:\n"
                f"      - dockerfiles: \"services/*/Dockerfile\"\n        image: \"{host}/fleet/{{dir}}:1\"\n")
    with open(stamp, "w") as f:
        f.write(key)
    return repo, pipeline


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--registry", required=True, help="HOST:PORT of a running docker-registry (plain HTTP)")
    p.add_argument("--registry-root", required=True, help="its storage rootdirectory (to see whether it is filled)")
    p.add_argument("--out", required=True)
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--force", action="store_true")
    args = p.parse_args(argv)
    out = os.path.abspath(args.out)
    meta = ensure(out, args.registry, args.registry_root, args.images, args.seed, args.force)
    _, pipeline = write_git(out, args.registry, meta)
    print(f"scan_fleet: pipeline {pipeline}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
