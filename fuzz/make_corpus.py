#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/ from the test inputs (tests/, tests/data/,
pipelines/, examples/). Run from anywhere; it rewrites only the seed files it names.
The framing bytes per target follow the target's own reading of its input (see each
fuzz/<target>.cpp): e.g. dockerfile seeds end in two zero bytes (no build args, no target)."""
import gzip, hashlib, io, os, re, sqlite3, struct, sys, tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
TESTS = ROOT / "tests"


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / ("seed-" + hashlib.sha1(data).hexdigest()[:12])).write_bytes(data)


def raw_strings(path):
    text = (TESTS / path).read_text()
    return re.findall(r'R"\((.*?)\)"', text, re.S)


def c_strings(path, pattern):
    text = (TESTS / path).read_text()
    out = []
    for m in re.finditer(pattern, text):
        s = m.group(1)
        out.append(bytes(s, "utf-8").decode("unicode_escape"))
    return out


H = "4b1f0d3c9e2a7b6d5c8f1e0a9b3c2d4e6f708192a3b4c5d6e7f8091a2b3c4d5e"

# --- reference
for s in c_strings("reference_test.cpp", r'\{"([^"\\]*)", "')[:40]:
    put("reference", s)
put("reference", "debian@sha256:" + H)
put("reference", "[fd00::7]:5000/app:dev@sha256:" + H)

# --- dockerfile: text + "\0\0" (no build args, no --target); one with a build arg
dockerfiles = []
for f in sorted((ROOT / "examples").rglob("Dockerfile*")):
    dockerfiles.append(f.read_text())
for s in raw_strings("dockerfile_test.cpp") + raw_strings("dockerfile_pin_test.cpp"):
    if "FROM" in s.upper():
        dockerfiles.append(s)
for s in c_strings("dockerfile_cases_test.cpp", r'"((?:FROM|ARG|# syntax)[^"\\]*(?:\\.[^"\\]*)*)"')[:40]:
    dockerfiles.append(s)
for d in dockerfiles[:60]:
    put("dockerfile", d.encode() + b"\0\0")
put("dockerfile", "ARG BASE=debian\nARG TAG\nFROM ${BASE}:${TAG:-12} AS build\nRUN --mount=type=bind,from=alpine:3.20,target=/a true\n"
    "FROM build\nCOPY --from=busybox:1 /bin/sh /sh\nONBUILD COPY --from=gcr.io/x/y:1 / /\n")
# build arg TAG=13 (16-byte random-length strings end at "\\" + other), then the text; 1 arg, no target
put("dockerfile", b"TAG\\ 13\\ " + b"ARG TAG=12\nFROM debian:${TAG}\n" + b"\0\1")

# --- pipeline
for f in sorted((ROOT / "pipelines").glob("*.yaml")):
    put("pipeline", f.read_text())
for name in ("pipeline_test.cpp", "pipeline_triggers_test.cpp", "pipeline_deploy_test.cpp"):
    if (TESTS / name).exists():
        for s in raw_strings(name):
            if "version" in s or "sources" in s:
                put("pipeline", s)

# --- webhook: sender byte, flags byte, header lines, blank line, body
sys.path.insert(0, str(ROOT / "fuzz"))
SENDERS = ["distribution", "dockerhub", "harbor", "quay", "github", "generic"]
support = (TESTS / "webhook_support.hpp").read_text()
def between(start, end):
    i = support.index(start); j = support.index(end, i)
    return support[i:j]
dist = ('{"events": [{"id": "6f0c", "timestamp": "2026-05-01T10:02:11.482Z", "action": "push", "target": {'
        '"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:' + H + '", "size": 1609, '
        '"repository": "base/runtime", "url": "https://registry.internal/v2/base/runtime/manifests/sha256:' + H + '", '
        '"tag": "bookworm"}, "request": {"id": "c1d2", "host": "registry.internal", "method": "PUT"}}, '
        '{"id": "0a9b", "action": "push", "target": {"mediaType": "application/octet-stream", "digest": "sha256:' + H +
        '", "repository": "base/runtime"}, "request": {"method": "PUT"}}]}')
hub = ('{"callback_url": "https://registry.hub.docker.com/u/acme/runtime/hook/2f1e/", "push_data": {"pushed_at": 1777629731, '
       '"pusher": "acmeci", "tag": "bookworm"}, "repository": {"repo_name": "acme/runtime", "namespace": "acme", "name": "runtime"}}')
harbor_data = ('{"resources": [{"digest": "sha256:' + H + '", "tag": "bookworm", "resource_url": "harbor.internal/base/runtime:bookworm"}], '
               '"repository": {"name": "runtime", "namespace": "base", "repo_full_name": "base/runtime", "repo_type": "private"}}')
harbor = '{"type": "PUSH_ARTIFACT", "occur_at": 1777629731, "operator": "robot$ci", "event_data": ' + harbor_data + '}'
harbor_ce = ('{"specversion":"1.0","id":"7c1d-42","source":"/projects/3/webhook/policies/7","type":"harbor.artifact.pushed",'
             '"datacontenttype":"application/json","data":' + harbor_data + '}')
quay = ('{"repository": "acme/runtime", "namespace": "acme", "name": "runtime", "docker_url": "quay.io/acme/runtime", '
        '"homepage": "https://quay.io/repository/acme/runtime", "updated_tags": ["bookworm"]}')
github = ('{"action": "published", "package": {"name": "runtime", "namespace": "acme/runtime-src", "package_type": "CONTAINER", '
          '"owner": {"login": "acme"}, "package_version": {"name": "sha256:' + H + '", "version": "sha256:' + H + '", '
          '"package_url": "ghcr.io/acme/runtime:bookworm", "container_metadata": {"tag": {"name": "bookworm", "digest": "sha256:' + H +
          '"}, "manifest": {"digest": "sha256:' + H + '", "media_type": "application/vnd.oci.image.index.v1+json", "size": 1609}}}, '
          '"registry": {"type": "CONTAINER", "url": "https://ghcr.io/acme"}}, "sender": {"login": "acme-ci"}}')
generic = ('{"events": [{"image": "127.0.0.1:5000/base/runtime:bookworm", "digest": "sha256:' + H + '", "id": "a1"}, '
           '{"image": "debian:12"}]}')
bodies = {"distribution": [dist], "dockerhub": [hub], "harbor": [harbor, harbor_ce], "quay": [quay],
          "github": [github], "generic": [generic, '{"image": "debian:12@sha256:' + H + '"}']}
for i, sender in enumerate(SENDERS):
    for body in bodies[sender]:
        put("webhook", bytes([i, 8]) + b"\n" + body.encode())
        headers = "X-GitHub-Event: package\nX-GitHub-Delivery: 72d3\n" if sender == "github" else ""
        put("webhook", bytes([i, 1]) + (headers + "Authorization: Bearer fuzz-token\n\n").encode() + body.encode())
        import hmac
        sig = hmac.new(b"fuzz-secret", body.encode(), "sha256").hexdigest()
        name = "X-Hub-Signature-256" if sender == "github" else "X-Cascade-Signature-256"
        put("webhook", bytes([i, 2]) + (headers + f"{name}: sha256={sig}\n\n").encode() + body.encode())
put("webhook", bytes([5, 1]) + b"?token: fuzz-token\n\n" + generic.encode())

# --- cron: expression, then 4 bytes of instant and 1 byte of zone (read from the end)
exprs = c_strings("cron_test.cpp", r'parse\("([^"]*)"')
exprs += ["0 3 * * *", "*/15 * * * *", "30 2 * * 0", "0 0 29 2 *", "0 0 30 2 *", "@daily", "@hourly", "@yearly",
          "0 9-17/2 * JAN-MAR MON-FRI", "5,10,15 1 1,15 * sun", "0 0 * * 7", "0 2 1-7 * 1"]
for n, e in enumerate(dict.fromkeys(exprs)):
    put("cron", e.encode() + struct.pack("<I", 1774746000 + n * 86400) + bytes([n % 6]))

# --- http_request: piece size byte, then the stream
reqs = [b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
        b"POST /hooks/generic?token=abc%20d&x=1 HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 22\r\n\r\n{\"image\": \"debian:12\"}",
        b"POST /hooks/github HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"GET /a%2Fb/../c?q=%zz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]
for r in reqs:
    put("http_request", b"\xff" + r)
    put("http_request", b"\x03" + r)

# --- registry_challenge
for s in raw_strings("registry_auth_test.cpp"):
    if "realm" in s or "Basic" in s:
        put("registry_challenge", s)
put("registry_challenge", 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull"')
put("registry_challenge", 'Basic realm="Registry Realm"')
put("registry_challenge", 'Basic realm="a \\"quoted\\" realm" , Bearer realm="https://t/x", error="insufficient_scope",Newauth  token=abc')

# --- packages
dpkg_text = (TESTS / "packages_test.cpp").read_text()
for m in re.finditer(r'((?:\s*"(?:Package|Status|Version|Source|Architecture|Essential|Description)[^"]*")+)', dpkg_text):
    chunk = "".join(bytes(x, "utf-8").decode("unicode_escape") for x in re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
    if "Package" in chunk:
        put("dpkg_status", b"\0" + chunk.encode())
        put("dpkg_status", b"\1" + chunk.encode())
put("dpkg_status", b"\0Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b8\nSource: bash (5.2.15-2)\n"
    b"Architecture: amd64\nDescription: GNU Bourne Again SHell\n Bash is an sh-compatible shell.\n .\n more\n\n"
    b"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u9\nArchitecture: amd64\nMulti-Arch: same\n")
put("apk_installed", (TESTS / "data/packages/apk-installed").read_bytes())
put("apk_installed", "C:Q1abc=\nP:busybox\nV:1.36.1-r29\nA:x86_64\no:busybox\nm:Sören\n\nP:musl\nV:1.2.5-r0\nA:x86_64\n")
rpmdb = (TESTS / "data/packages/rpmdb.sqlite").read_bytes()
if len(rpmdb) <= 512 * 1024:
    put("rpmdb_sqlite", rpmdb)
con = sqlite3.connect(str(TESTS / "data/packages/rpmdb.sqlite"))
for (blob,) in con.execute("SELECT blob FROM Packages ORDER BY hnum LIMIT 8"):
    put("rpm_header", bytes(blob))
con.close()
for s in re.findall(r'"((?:[A-Z_]+=[^"\\]*(?:\\.[^"\\]*)*))"', dpkg_text):
    pass
os_releases = ['PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n',
               'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME="Alpine Linux v3.20"\n',
               'PRETTY_NAME="Ubuntu 24.04.3 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION="24.04.3 LTS (Noble Numbat)"\nID=ubuntu\nID_LIKE=debian\n',
               "NAME='Rocky Linux'\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\nX=a\\\"b\\$c\n# comment\n"]
for s in os_releases:
    put("os_release", s)

# --- version: scheme byte (0 dpkg, 1 apk, 2 rpm), then "a\nb"
vt = (TESTS / "version_test.cpp").read_text()
for n, scheme in enumerate(["Dpkg", "Apk", "Rpm"]):
    blocks = re.findall(r'k' + scheme + r'[A-Za-z]* = R"\((.*?)\)"', vt, re.S)
    triples = []
    for b in blocks:
        triples += re.findall(r'(\S+) ([<>=]) (\S+)', b)
    for a, _, b in triples[:25]:
        put("version", bytes([n]) + f"{a}\n{b}".encode())
for n, (a, b) in enumerate([("1:2.36-9+deb12u9", "2.36-9+deb12u10~"), ("1.2.3_rc1-r0", "1.2.3-r1"), ("2:1.0^git1-1.el9", "2:1.0~rc1-1.el9")]):
    put("version", bytes([n]) + f"{a}\n{b}".encode())

# --- advisories
for f in sorted((TESTS / "data/advisories").glob("*.json")):
    put("advisory_osv", f.read_bytes())
for f in sorted((ROOT / "examples").rglob("*.json")):
    if "advisor" in str(f) and f.stat().st_size < 64 * 1024:
        put("advisory_osv", f.read_bytes())
for s in raw_strings("advisory_test.cpp"):
    if s.lstrip().startswith(("{", "[")) and '"id"' in s:
        put("advisory_osv", s)
at = (TESTS / "advisory_test.cpp").read_text()
for s in re.findall(r'parse_constraint\("([^"]*)"\)', at) + ["bash", "bash<5.2.15-2+deb12u1", "openssl >= 3.0.2",
                                                             "musl=1.2.5-r0", "glibc > 2:2.34-100.el9", "libc6<="]:
    put("advisory_constraint", s)

# --- scan_layer: small layers, plain tar, gzip, whiteouts, links
def tar_bytes(files, links=(), fmt=tarfile.GNU_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name); info.size = len(data); info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
        for name, target, kind in links:
            info = tarfile.TarInfo(name); info.type = kind; info.linkname = target
            tar.addfile(info)
    return buf.getvalue()
status = b"Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b8\nArchitecture: amd64\n\n"
osr = os_releases[0].encode()
apk = (TESTS / "data/packages/apk-installed").read_bytes()[:4096]
layers = [
    tar_bytes([("var/lib/dpkg/status", status), ("etc/os-release", osr)]),
    tar_bytes([("./lib/apk/db/installed", apk), ("usr/lib/os-release", os_releases[1].encode())],
              links=[("etc/os-release", "../usr/lib/os-release", tarfile.SYMTYPE)]),
    tar_bytes([("var/lib/dpkg/.wh..wh..opq", b""), ("var/lib/dpkg/status.d/bash", status), ("etc/.wh.os-release", b"")]),
    tar_bytes([("var/lib/rpm/Packages", b"\0" * 64)], links=[("var/lib/rpm/rpmdb.sqlite", "var/lib/rpm/Packages", tarfile.LNKTYPE)],
              fmt=tarfile.PAX_FORMAT),
]
for layer in layers:
    put("scan_layer", layer)
    put("scan_layer", gzip.compress(layer, mtime=0))
if len(rpmdb) <= 256 * 1024:
    put("scan_layer", gzip.compress(tar_bytes([("usr/lib/sysimage/rpm/rpmdb.sqlite", rpmdb)]), mtime=0))

for d in sorted(CORPUS.iterdir()):
    print(f"{d.name}: {len(list(d.iterdir()))} seeds")
