#!/usr/bin/env python3
"""Generates a synthetic fleet for benchmarking `cascade graph`: git repositories holding
Dockerfiles at services/<dir>/Dockerfile, plus the pipeline file fleet.yaml naming them.

Shape (like a real fleet, and acyclic by construction: an image is only ever built on, or
copies from, an image of a lower level):

  level 0  external roots (debian:12, alpine:3.20, ubuntu:24.04, distroless, ubi ...)
  level 1  base images (--bases, default 20) FROM the roots
  level 2  runtime images (--runtimes, default 200) FROM the bases
  level 3+ app images FROM a runtime (level 3) or an app of the level just below,
           over --app-levels levels (default 6, so images are up to 8 levels deep)

Dockerfile variety: multi-stage builds (builder stage + COPY --from=builder, COPY --from=an
external image), ARG-templated FROM (`ARG BASE=...` then `FROM ${BASE}`), RUN --mount with
from=, `# syntax=` directives, comments, continuation lines with comments inside them, stages
the default target does not need, base images spelled in several equivalent ways and pinned by
digest. Every repository also holds 20-50 ordinary files.

Output (deterministic for given parameters and --seed):
  OUT/repos/repo-NNN   bare git repositories, one commit on `main`, objects packed (git gc)
  OUT/fleet.yaml       the pipeline file
  OUT/manifest.json    what a correct graph contains: every recipe with its expected bases
                       (normalized, section 1 of DOCKERFILE.md), the external roots, frontends
  OUT/.stamp.json      the parameters; a rerun with the same ones does nothing

Standard library only. Repositories are written with `git fast-import`, in parallel.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

REGISTRY = "registry.bench.local"
COMMIT_TIME = "1700000000 +0000"
AUTHOR = "Bench Fleet <bench@bench.local>"

# External roots the base images are built on: normalized reference -> spellings that
# normalize to it (distribution/reference rules: docker.io and library/ are implied).
ROOTS = {
    "docker.io/library/debian:12": ["debian:12", "docker.io/library/debian:12", "library/debian:12"],
    "docker.io/library/debian:12-slim": ["debian:12-slim", "docker.io/library/debian:12-slim"],
    "docker.io/library/alpine:3.20": ["alpine:3.20", "docker.io/library/alpine:3.20"],
    "docker.io/library/ubuntu:24.04": ["ubuntu:24.04", "docker.io/library/ubuntu:24.04"],
    "gcr.io/distroless/static:nonroot": ["gcr.io/distroless/static:nonroot"],
    "gcr.io/distroless/base-debian12:nonroot": ["gcr.io/distroless/base-debian12:nonroot"],
    "registry.access.redhat.com/ubi9/ubi-minimal:9.4": ["registry.access.redhat.com/ubi9/ubi-minimal:9.4"],
}
ROOT_FAMILY = {
    "docker.io/library/debian:12": "debian",
    "docker.io/library/debian:12-slim": "debian",
    "docker.io/library/alpine:3.20": "alpine",
    "docker.io/library/ubuntu:24.04": "ubuntu",
    "gcr.io/distroless/static:nonroot": "distroless",
    "gcr.io/distroless/base-debian12:nonroot": "distroless",
    "registry.access.redhat.com/ubi9/ubi-minimal:9.4": "ubi",
}

LANGS = ["python", "node", "jvm", "go", "ruby", "dotnet", "php", "rust", "nginx"]

# Builder images of multi-stage builds, per language: (spelling, normalized).
BUILDERS = {
    "python": ("python:3.12-bookworm", "docker.io/library/python:3.12-bookworm"),
    "node": ("node:20-bookworm", "docker.io/library/node:20-bookworm"),
    "jvm": ("maven:3.9-eclipse-temurin-21", "docker.io/library/maven:3.9-eclipse-temurin-21"),
    "go": ("golang:1.22-bookworm", "docker.io/library/golang:1.22-bookworm"),
    "ruby": ("ruby:3.3-bookworm", "docker.io/library/ruby:3.3-bookworm"),
    "dotnet": ("mcr.microsoft.com/dotnet/sdk:8.0", "mcr.microsoft.com/dotnet/sdk:8.0"),
    "php": ("composer:2.7", "docker.io/library/composer:2.7"),
    "rust": ("rust:1.79-bookworm", "docker.io/library/rust:1.79-bookworm"),
    "nginx": ("node:20-bookworm", "docker.io/library/node:20-bookworm"),
}
# Versioned builder spellings used with `ARG <LANG>_VERSION=...` then `FROM name:${..}-suffix`.
BUILDER_ARGS = {
    "python": ("PYTHON_VERSION", "3.12", "python", "-bookworm"),
    "node": ("NODE_VERSION", "20", "node", "-bookworm"),
    "go": ("GO_VERSION", "1.22", "golang", "-bookworm"),
    "rust": ("RUST_VERSION", "1.79", "rust", "-bookworm"),
    "ruby": ("RUBY_VERSION", "3.3", "ruby", "-bookworm"),
}
# Images that apps copy single binaries out of: (spelling, normalized, source path).
TOOLS = [
    ("busybox:1.36-musl", "docker.io/library/busybox:1.36-musl", "/bin/busybox"),
    ("docker.io/tianon/gosu:1.17", "docker.io/tianon/gosu:1.17", "/usr/local/bin/gosu"),
    ("ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.28",
     "ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.28", "/ko-app/grpc-health-probe"),
    ("quay.io/prometheus/node-exporter:v1.8.1", "quay.io/prometheus/node-exporter:v1.8.1",
     "/bin/node_exporter"),
    ("hashicorp/envconsul:0.13", "docker.io/hashicorp/envconsul:0.13", "/bin/envconsul"),
]
# Used only by stages the default target does not need: must not appear in the graph.
TEST_TOOLS = ("bench/test-tools:1", "docker.io/bench/test-tools:1")

FRONTENDS = {
    "docker/dockerfile:1.7": "docker.io/docker/dockerfile:1.7",
    "docker/dockerfile:1": "docker.io/docker/dockerfile:1",
    "docker.io/docker/dockerfile:1.7-labs": "docker.io/docker/dockerfile:1.7-labs",
}

WORDS = ["billing", "ledger", "search", "catalog", "orders", "payments", "auth", "profile",
         "notify", "mailer", "reports", "gateway", "inventory", "pricing", "shipping", "cart",
         "audit", "metrics", "export", "import", "scheduler", "worker", "media", "thumbs",
         "geo", "feeds", "chat", "sessions", "quota", "ratings", "fraud", "tax"]
ROLES = ["api", "web", "worker", "cron", "consumer", "proxy", "admin", "sync", "batch", "grpc"]
PACKAGES = ["ca-certificates", "curl", "tzdata", "libssl3", "git", "jq", "openssl", "procps",
            "netbase", "libpq5", "locales", "unzip", "xz-utils", "gnupg", "dumb-init", "tini"]
SOURCE_EXT = {"python": "py", "node": "js", "jvm": "java", "go": "go", "ruby": "rb",
              "dotnet": "cs", "php": "php", "rust": "rs", "nginx": "conf"}


@dataclass
class Image:
    index: int
    level: int
    kind: str                 # "base", "runtime" or "app"
    family: str               # base: distro family; runtime/app: language
    parent: "Image | None" = None  # the image of the level below it is built on
    root: str = ""            # bases: the normalized external root
    repo: int = -1
    dir: str = ""
    text: str = ""
    bases: list[str] = field(default_factory=list)
    frontend: str | None = None

    def ref(self) -> str:
        return f"{REGISTRY}/repo-{self.repo:03d}/{self.dir}:latest"


def split_exact(total: int, weights: list[float]) -> list[int]:
    """Splits `total` into parts proportional to `weights` (largest remainder), each >= 1."""
    scale = sum(weights)
    raw = [total * w / scale for w in weights]
    parts = [max(1, int(r)) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - int(raw[i]), reverse=True)
    i = 0
    while sum(parts) < total:
        parts[order[i % len(order)]] += 1
        i += 1
    while sum(parts) > total:
        biggest = max(range(len(parts)), key=lambda k: parts[k])
        parts[biggest] -= 1
    return parts


def skewed(rng: random.Random, items: list):
    """A popular item more often than a rare one (roughly power-law fan-out)."""
    return items[int(len(items) * rng.random() ** 2.2)]


def plan_images(args, rng: random.Random) -> list[Image]:
    images: list[Image] = []
    roots = list(ROOTS)
    bases = []
    for b in range(args.bases):
        root = roots[b % len(roots)] if b < len(roots) else skewed(rng, roots)
        img = Image(len(images), 1, "base", ROOT_FAMILY[root], root=root)
        images.append(img)
        bases.append(img)
    runtimes = []
    for _ in range(args.runtimes):
        img = Image(len(images), 2, "runtime", rng.choice(LANGS), parent=skewed(rng, bases))
        images.append(img)
        runtimes.append(img)
    app_total = args.dockerfiles - args.bases - args.runtimes
    per_level = split_exact(app_total, [0.62 ** k for k in range(args.app_levels)])
    below = runtimes
    for count in per_level:
        level_images = []
        for _ in range(count):
            parent = skewed(rng, below)
            img = Image(len(images), below[0].level + 1, "app", parent.family, parent=parent)
            images.append(img)
            level_images.append(img)
        below = level_images
    return images


def assign_repos(args, rng: random.Random, images: list[Image]) -> None:
    """Bases live in repo-000 (the platform repo), runtimes in the first ten, apps anywhere
    with uneven repo sizes; every repository gets at least one Dockerfile."""
    weights = [rng.lognormvariate(0, 0.5) for _ in range(args.repos)]
    platform_repos = min(10, args.repos)
    for img in images:
        if img.kind == "base":
            img.repo = 0
        elif img.kind == "runtime":
            img.repo = rng.randrange(platform_repos)
        else:
            img.repo = rng.choices(range(args.repos), weights)[0]
    counts = [0] * args.repos
    for img in images:
        counts[img.repo] += 1
    for repo in range(args.repos):
        if counts[repo] == 0:
            donor = max((i for i in images if i.kind == "app"), key=lambda i: (counts[i.repo], -i.index))
            counts[donor.repo] -= 1
            donor.repo = repo
            counts[repo] += 1
    for img in images:
        if img.kind == "base":
            img.dir = f"base-{img.family}-{img.index:02d}"
        elif img.kind == "runtime":
            img.dir = f"rt-{img.family}-{img.index:04d}"
        else:
            img.dir = f"{rng.choice(WORDS)}-{rng.choice(ROLES)}-{img.index:05d}"


# ---------------------------------------------------------------- Dockerfile text

def fleet_spelling(rng: random.Random, img: Image) -> str:
    """A reference to a fleet image; sometimes without the (implied) tag."""
    return img.ref() if rng.random() > 0.05 else img.ref().rsplit(":", 1)[0]


def fake_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def continued_run(rng: random.Random, commands: list[str], mounts: list[str] = ()) -> list[str]:
    """A RUN instruction over several physical lines, sometimes with comments inside."""
    segments = list(mounts) + [commands[0]] + [f"&& {cmd}" for cmd in commands[1:]]
    lines = []
    for i, segment in enumerate(segments):
        if i > 0 and rng.random() < 0.2:
            lines.append("    # " + rng.choice(["pin versions for reproducibility", "keep the layer small",
                                                  "see docs/build.md", "needed by the health check"]))
        text = ("RUN " if i == 0 else "    ") + segment
        lines.append(text + (" \\" if i < len(segments) - 1 else ""))
    return lines


def install_commands(rng: random.Random, family: str) -> list[str]:
    pkgs = " ".join(sorted(rng.sample(PACKAGES, rng.randint(2, 6))))
    if family == "alpine":
        return [f"apk add --no-cache {pkgs}"]
    if family == "ubi":
        return [f"microdnf install -y {pkgs}", "microdnf clean all"]
    return ["apt-get update", f"apt-get install -y --no-install-recommends {pkgs}",
            "rm -rf /var/lib/apt/lists/*"]


def render_base(rng: random.Random, img: Image) -> tuple[list[str], list[str]]:
    spelling = rng.choice(ROOTS[img.root])
    base_ref = img.root
    lines = [f"# Base image {img.dir}: hardened {img.family} with the company CA", ""]
    if rng.random() < 0.2 and img.family != "distroless":
        # Pinned by digest: an external root of its own, written tag@digest.
        digest = fake_digest(img.root)
        spelling = f"{spelling}@{digest}"
        base_ref = f"{img.root}@{digest}"
        lines.append(f"FROM {spelling}")
    elif rng.random() < 0.3 and ":" in spelling:
        name, tag = spelling.rsplit(":", 1)
        lines += [f"ARG {img.family.upper()}_TAG={tag}", f"FROM {name}:${{{img.family.upper()}_TAG}}"]
    else:
        lines.append(f"FROM {spelling}")
    lines += [f'LABEL org.opencontainers.image.title="{img.dir}"', ""]
    if img.family != "distroless":
        lines += continued_run(rng, install_commands(rng, img.family))
    lines += ["COPY certs/company-ca.crt /usr/local/share/ca-certificates/", "USER 65532"]
    return lines, [base_ref]


def runtime_tail(rng: random.Random, lang: str) -> list[str]:
    return [f"ENV LANG=C.UTF-8 RUNTIME={lang}", "WORKDIR /app"]


def render_runtime(rng: random.Random, img: Image) -> tuple[list[str], list[str]]:
    parent = img.parent
    bases = {parent.ref()}
    lines = [f"# {img.family} runtime on {parent.dir}"]
    stage_lines: list[str] = []
    if rng.random() < 0.3:
        spelling, normalized = BUILDERS[img.family]
        bases.add(normalized)
        stage_lines = [f"FROM {spelling} AS toolchain", "RUN mkdir -p /opt/runtime && cp -a /usr/local/. /opt/runtime/"]
    lines += stage_lines
    lines += ["", f"FROM {fleet_spelling(rng, parent)}", "USER root"]
    lines += continued_run(rng, install_commands(rng, parent.family))
    if stage_lines:
        lines.append("COPY --from=toolchain /opt/runtime /usr/local")
    if rng.random() < 0.2:
        spelling, normalized, path = rng.choice(TOOLS)
        bases.add(normalized)
        lines.append(f"COPY --from={spelling} {path} /usr/local/bin/")
    lines += runtime_tail(rng, img.family) + ["USER 65532"]
    return lines, sorted(bases)


def lower_fleet_image(rng: random.Random, img: Image, by_level: dict[int, list[Image]]) -> Image:
    """Any fleet image of a level strictly below `img` (runtime level or above)."""
    level = rng.randint(2, img.level - 1)
    return skewed(rng, by_level[level])


def render_app(rng: random.Random, img: Image, by_level: dict[int, list[Image]]) -> tuple[list[str], list[str]]:
    lang = img.family
    parent = img.parent
    bases: set[str] = {parent.ref()}
    header_args: list[str] = []   # global ARGs, before the first FROM
    stages: list[list[str]] = []  # stages before the final one
    final: list[str] = []

    # Final FROM, possibly templated by a global ARG.
    r = rng.random()
    if r < 0.10:
        header_args.append(f"ARG BASE={fleet_spelling(rng, parent)}")
        from_line = "FROM ${BASE}"
    elif r < 0.15:
        header_args += [f"ARG REGISTRY={REGISTRY}", "ARG BASE_TAG=latest"]
        path = parent.ref()[len(REGISTRY) + 1:].rsplit(":", 1)[0]
        from_line = f"FROM ${{REGISTRY}}/{path}:${{BASE_TAG}}"
    else:
        from_line = f"FROM {fleet_spelling(rng, parent)}"

    multi = rng.random() < 0.35
    if multi:
        if rng.random() < 0.7:
            spelling, normalized = BUILDERS[lang]
            if lang in BUILDER_ARGS and rng.random() < 0.4:
                var, version, name, suffix = BUILDER_ARGS[lang]
                header_args.append(f"ARG {var}={version}")
                spelling = f"{name}:${{{var}}}{suffix}"
            platform = "--platform=$BUILDPLATFORM " if rng.random() < 0.3 else ""
            bases.add(normalized)
            builder_from = f"FROM {platform}{spelling} AS builder"
            if platform and rng.random() < 0.3:
                builder_from = f"FROM {platform}\\\n    {spelling} \\\n    AS builder"
        else:
            source = lower_fleet_image(rng, img, by_level)
            bases.add(source.ref())
            builder_from = f"FROM {fleet_spelling(rng, source)} AS builder"
        stage = ["# Build stage", builder_from, "WORKDIR /src", "COPY . ."]
        stage += continued_run(rng, [f"make build LANG={lang}", "mkdir -p /out", "cp -r dist/. /out/"],
                               ["--mount=type=cache,target=/root/.cache"] if rng.random() < 0.5 else [])
        stages.append(stage)
        if rng.random() < 0.15:
            test_stage = ["# Tests run in CI with --target test; not part of the default build",
                          "FROM builder AS test",
                          f"COPY --from={TEST_TOOLS[0]} /usr/local/bin/ /usr/local/bin/",
                          "RUN make test"]
            stages.append(test_stage)
    elif rng.random() < 0.05:
        stages.append(["# Lint stage: only built with --target lint",
                       f"FROM {TEST_TOOLS[0]} AS lint", "COPY . /src", "RUN lint /src"])

    final += ["", "# Runtime stage" if multi else "# Application image", from_line]
    final.append(f'LABEL org.opencontainers.image.source="https://git.bench.local/repo-{img.repo:03d}"')
    if rng.random() < 0.10:
        mount_source = lower_fleet_image(rng, img, by_level) if rng.random() < 0.7 else None
        if mount_source is not None:
            bases.add(mount_source.ref())
            mount_ref = mount_source.ref()
        else:
            spelling, normalized, _ = rng.choice(TOOLS)
            bases.add(normalized)
            mount_ref = spelling
        final += continued_run(rng, ["cp -r /seed/. /app/", "chown -R 65532 /app"],
                               [f"--mount=type=cache,target=/seed,from={mount_ref},source=/usr/share"])
    elif rng.random() < 0.3:
        final += continued_run(rng, install_commands(rng, "debian")[:2])
    if rng.random() < 0.03:
        # Heredoc bodies are opaque: the FROM inside is text, not an instruction.
        final += ["RUN <<EOF", "set -e", "FROM=$(date +%s)", "echo \"started $FROM\" > /etc/motd", "EOF"]
    if multi:
        if rng.random() < 0.2:
            final.append("RUN --mount=type=bind,from=builder,source=/out,target=/mnt/out cp -r /mnt/out/. /app/")
        else:
            final.append("COPY --from=builder /out/ /app/")
    else:
        final.append("COPY . /app/")
    if rng.random() < 0.15:
        spelling, normalized, path = rng.choice(TOOLS)
        bases.add(normalized)
        final.append(f"COPY --from={spelling} {path} /usr/local/bin/")
    if rng.random() < 0.05:
        source = lower_fleet_image(rng, img, by_level)
        bases.add(source.ref())
        final.append(f"COPY --from={fleet_spelling(rng, source)} /etc/ssl/certs/ /etc/ssl/certs/")
    final += ["EXPOSE 8080", "USER 65532:65532",
              f'ENTRYPOINT ["/app/{img.dir.rsplit("-", 1)[0]}"]']

    lines = [f"# {img.dir}: {lang} service (repo-{img.repo:03d})"] if rng.random() < 0.8 else []
    lines += header_args
    for stage in stages:
        lines += [""] + stage
    lines += final
    return lines, sorted(bases)


def render_dockerfiles(seed: int, images: list[Image]) -> None:
    by_level: dict[int, list[Image]] = {}
    for img in images:
        by_level.setdefault(img.level, []).append(img)
    for img in images:
        rng = random.Random(f"{seed}:dockerfile:{img.index}")
        if img.kind == "base":
            lines, bases = render_base(rng, img)
        elif img.kind == "runtime":
            lines, bases = render_runtime(rng, img)
        else:
            lines, bases = render_app(rng, img, by_level)
        if rng.random() < 0.3:
            spelling = rng.choice(list(FRONTENDS))
            lines.insert(0, f"# syntax={spelling}")
            img.frontend = FRONTENDS[spelling]
        img.text = "\n".join(lines) + "\n"
        img.bases = bases


# ---------------------------------------------------------------- ordinary files

def source_text(rng: random.Random, lang: str, name: str) -> str:
    lines = []
    if lang == "python":
        lines += [f"from {rng.choice(WORDS)} import {rng.choice(ROLES)}", "import os", ""]
    for i in range(rng.randint(10, 120)):
        word = rng.choice(WORDS)
        if lang == "python":
            lines.append(f"def {word}_{i}(value):\n    return value + {i}  # {name}\n")
        elif lang in ("go", "rust", "jvm", "dotnet", "node", "php"):
            lines.append(f"// {word} handler {i} for {name}\nfunc_{word}_{i}(value) {{ return value + {i}; }}")
        else:
            lines.append(f"# {word} {i}: {name}")
    return "\n".join(lines) + "\n"


def ordinary_files(rng: random.Random, repo: int, images: list[Image]) -> dict[str, str]:
    """20-50 files that are not Dockerfiles: README, CI config, docs, sources."""
    files: dict[str, str] = {}
    name = f"repo-{repo:03d}"
    langs = sorted({img.family for img in images if img.kind != "base"}) or ["go"]
    services = "\n".join(f"- `{img.dir}` ({img.family})" for img in images[:200])
    files["README.md"] = f"# {name}\n\nServices built from this repository:\n\n{services}\n"
    files["LICENSE"] = "Copyright 2024 Bench Corp. All rights reserved.\n"
    files[".gitignore"] = "/dist/\n/build/\n*.pyc\nnode_modules/\n"
    files["Makefile"] = "build:\n\t./scripts/build.sh\n\ntest:\n\t./scripts/test.sh\n"
    files[".github/workflows/ci.yml"] = (
        "name: ci\non: [push]\njobs:\n  build:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n      - run: make build test\n")
    files["scripts/build.sh"] = "#!/bin/sh\nset -eu\nfor d in services/*/; do make -C \"$d\"; done\n"
    files["scripts/test.sh"] = "#!/bin/sh\nset -eu\necho testing\n"
    target = rng.randint(20, 50)
    service_dirs = [img.dir for img in images]
    i = 0
    while len(files) < target:
        lang = rng.choice(langs)
        ext = SOURCE_EXT[lang]
        r = rng.random()
        if r < 0.15:
            path = f"docs/{rng.choice(WORDS)}-{i}.md"
            body = f"# {rng.choice(WORDS)}\n\n" + "Lorem ipsum dolor sit amet.\n" * rng.randint(5, 60)
        elif r < 0.5 and service_dirs:
            path = f"services/{rng.choice(service_dirs)}/main.{ext}"
            body = source_text(rng, lang, path)
        elif r < 0.6 and service_dirs:
            path = f"services/{rng.choice(service_dirs)}/.dockerignore"
            body = ".git\nnode_modules\n*.md\n"
        else:
            path = f"lib/{rng.choice(WORDS)}/{rng.choice(ROLES)}_{i}.{ext}"
            body = source_text(rng, lang, path)
        files.setdefault(path, body)
        i += 1
    return files


# ---------------------------------------------------------------- git

def git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Bench Fleet", "GIT_AUTHOR_EMAIL": "bench@bench.local",
        "GIT_COMMITTER_NAME": "Bench Fleet", "GIT_COMMITTER_EMAIL": "bench@bench.local",
        "GIT_AUTHOR_DATE": COMMIT_TIME, "GIT_COMMITTER_DATE": COMMIT_TIME,
        "LC_ALL": "C",
    })
    return env


def fast_import_stream(files: dict[str, str], message: str) -> bytes:
    out = bytearray()
    msg = message.encode()
    out += b"commit refs/heads/main\n"
    out += f"author {AUTHOR} {COMMIT_TIME}\ncommitter {AUTHOR} {COMMIT_TIME}\n".encode()
    out += b"data %d\n" % len(msg) + msg + b"\n"
    for path in sorted(files):
        data = files[path].encode()
        mode = b"100755" if path.endswith(".sh") else b"100644"
        out += b"M " + mode + b" inline " + path.encode() + b"\n"
        out += b"data %d\n" % len(data) + data + b"\n"
    out += b"done\n"
    return bytes(out)


def write_repo(path: str, files: dict[str, str], message: str) -> None:
    env = git_env()
    run = lambda argv, **kw: subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, **kw)
    run(["git", "init", "-q", "--bare", "--template=", "--initial-branch=main", path])
    run(["git", "-C", path, "fast-import", "--quiet", "--done"],
        input=fast_import_stream(files, message))
    run(["git", "-C", path, "gc", "-q"])


# ---------------------------------------------------------------- outputs

def pipeline_yaml(repos: int) -> str:
    lines = ["version: 1", "sources:"]
    for repo in range(repos):
        name = f"repo-{repo:03d}"
        lines += [f"  - name: {name}",
                  f"    git: repos/{name}",
                  "    ref: main",
                  "    discover:",
                  '      - dockerfiles: "services/*/Dockerfile"',
                  f'        image: "{REGISTRY}/{name}/{{dir}}:latest"']
    return "\n".join(lines) + "\n"


def manifest(args, images: list[Image]) -> dict:
    produced = {img.ref() for img in images}
    external = sorted({b for img in images for b in img.bases if b not in produced})
    levels: dict[str, int] = {}
    for img in images:
        levels[str(img.level)] = levels.get(str(img.level), 0) + 1
    return {
        "repos": args.repos,
        "dockerfiles": len(images),
        "images": len(produced),
        "external": external,
        "frontends": sorted({img.frontend for img in images if img.frontend}),
        "levels": levels,
        "max_depth": max(img.level for img in images),
        "edges": sum(len(img.bases) for img in images),
        "recipes": [{"image": img.ref(), "source": f"repo-{img.repo:03d}",
                     "dockerfile": f"services/{img.dir}/Dockerfile", "level": img.level,
                     "bases": img.bases, "frontend": img.frontend} for img in images],
    }


def parse_args(argv: list[str]):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output folder (created; replaced when its parameters differ)")
    p.add_argument("--repos", type=int, default=100)
    p.add_argument("--dockerfiles", type=int, default=10_000, help="Dockerfiles in total, over all repos")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--bases", type=int, default=20)
    p.add_argument("--runtimes", type=int, default=200)
    p.add_argument("--app-levels", type=int, default=6, help="levels of app images above the runtimes")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    p.add_argument("--force", action="store_true", help="regenerate even when the parameters match")
    args = p.parse_args(argv)
    if args.repos < 1 or args.bases < 1 or args.runtimes < 1 or args.app_levels < 1:
        p.error("--repos, --bases, --runtimes and --app-levels must be at least 1")
    if args.dockerfiles < args.bases + args.runtimes + args.app_levels:
        p.error("--dockerfiles must be at least --bases + --runtimes + --app-levels")
    if args.dockerfiles < args.repos:
        p.error("--dockerfiles must be at least --repos (every repository holds one)")
    return args


def stamp_of(args) -> dict:
    with open(__file__, "rb") as f:
        generator = hashlib.sha256(f.read()).hexdigest()
    return {"repos": args.repos, "dockerfiles": args.dockerfiles, "seed": args.seed,
            "bases": args.bases, "runtimes": args.runtimes, "app_levels": args.app_levels,
            "generator_sha256": generator}


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    out = os.path.abspath(args.out)
    stamp = stamp_of(args)
    stamp_path = os.path.join(out, ".stamp.json")
    if os.path.exists(out):
        try:
            with open(stamp_path) as f:
                existing = json.load(f)
        except (OSError, ValueError):
            existing = None
        if existing is None and os.listdir(out):
            print(f"gen_fleet: {out} exists and was not made by gen_fleet.py (no .stamp.json); "
                  "remove it or pick another --out", file=sys.stderr)
            return 2
        if existing == stamp and not args.force:
            print(f"gen_fleet: {out} is up to date (same parameters); nothing to do")
            return 0

    started = time.monotonic()
    rng = random.Random(f"{args.seed}:plan")
    images = plan_images(args, rng)
    assign_repos(args, rng, images)
    render_dockerfiles(args.seed, images)

    tmp = f"{out}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "repos"))
    by_repo: dict[int, list[Image]] = {repo: [] for repo in range(args.repos)}
    for img in images:
        by_repo[img.repo].append(img)

    def build(repo: int) -> int:
        repo_images = by_repo[repo]
        files = ordinary_files(random.Random(f"{args.seed}:files:{repo}"), repo, repo_images)
        for img in repo_images:
            files[f"services/{img.dir}/Dockerfile"] = img.text
        write_repo(os.path.join(tmp, "repos", f"repo-{repo:03d}"), files,
                   f"repo-{repo:03d}: {len(repo_images)} services\n")
        return len(files)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        total_files = sum(pool.map(build, range(args.repos)))

    with open(os.path.join(tmp, "fleet.yaml"), "w") as f:
        f.write(pipeline_yaml(args.repos))
    info = manifest(args, images)
    info["files"] = total_files
    with open(os.path.join(tmp, "manifest.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    with open(os.path.join(tmp, ".stamp.json"), "w") as f:
        json.dump(stamp, f, indent=1)
        f.write("\n")

    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    os.rename(tmp, out)
    print(f"gen_fleet: {args.repos} repos, {len(images)} Dockerfiles, {total_files} files, "
          f"{len(info['external'])} external images, depth {info['max_depth']}, "
          f"in {time.monotonic() - started:.1f}s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
