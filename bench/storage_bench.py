#!/usr/bin/env python3
"""buildah's storage drivers on a real Debian 12 base: vfs against overlay, in one run.

Imports the mmdebstrap root filesystem that scripts/debian-rootfs.sh makes (and caches) into
two fresh buildah storage roots, one per driver, then builds the same N images on it in each
(three RUN steps apiece), alternating the driver that goes first from image to image so both
see the same machine state. Prints, per driver, the total and median build time, the disk
the storage root takes (du) after the import and after the builds, and the vfs/overlay ratios.

    bench/storage_bench.py [--images 20] [--keep]

Exit codes: 0 the table is printed; 3 the Debian archive is unreachable (no tarball can be
made); 1 anything else failed.
"""
import argparse, os, shutil, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WORK = os.path.join(HERE, ".work", "storage")
DRIVERS = ("vfs", "overlay")
BASE = "localhost/bench/debian:12"

def run(argv, **kw):
    result = subprocess.run(argv, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-2000:] + result.stderr[-4000:])
        raise SystemExit(f"storage-bench: {argv[0]} {' '.join(argv[1:6])} ... failed (exit {result.returncode})")
    return result.stdout

def debian_tarball():
    result = subprocess.run(["bash", os.path.join(REPO, "scripts", "debian-rootfs.sh")], capture_output=True, text=True)
    if result.returncode == 3:
        sys.stderr.write(result.stderr)
        print("storage-bench: cannot run: the Debian archive is unreachable, so the Debian 12 base "
              "(scripts/debian-rootfs.sh) cannot be made", file=sys.stderr)
        sys.exit(3)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit("storage-bench: scripts/debian-rootfs.sh failed")
    return result.stdout.strip().splitlines()[-1]

def buildah(driver):
    root = os.path.join(WORK, driver)
    return ["buildah", "--root", os.path.join(root, "root"), "--runroot", os.path.join(root, "runroot"),
            "--storage-driver", driver]

def disk_used(driver):
    """Bytes the storage root takes on disk (du, one file system)."""
    out = run(["du", "-s", "-x", "--block-size=1", os.path.join(WORK, driver, "root")])
    return int(out.split()[0])

def import_base(driver, tarball):
    """The tarball as an image, the way ENVIRONMENT.md does it: from scratch, mount, untar, commit."""
    start = time.monotonic()
    container = run(buildah(driver) + ["from", "scratch"]).strip()
    mountpoint = run(buildah(driver) + ["mount", container]).strip()
    run(["tar", "-xf", tarball, "-C", mountpoint])
    run(buildah(driver) + ["umount", container])
    run(buildah(driver) + ["commit", "--format", "docker", container, BASE])
    run(buildah(driver) + ["rm", container])
    return time.monotonic() - start

def write_context(index):
    context = os.path.join(WORK, "contexts", f"app-{index:02d}")
    os.makedirs(context, exist_ok=True)
    with open(os.path.join(context, "Dockerfile"), "w") as f:
        f.write(f"FROM {BASE}\n"
                f"RUN mkdir -p /srv/app && echo app-{index:02d} > /etc/app-release\n"
                f"RUN dpkg -l > /srv/app/packages.txt && ls -lR /usr/share/doc > /srv/app/docs.txt\n"
                f"RUN head -c 1048576 /dev/urandom > /srv/app/blob && sha256sum /srv/app/blob > /srv/app/blob.sha256\n")
    return context

def build(driver, index, context):
    start = time.monotonic()
    run(buildah(driver) + ["bud", "--isolation", "chroot", "--format", "docker", "--pull=never",
                           "-t", f"localhost/bench/app-{index:02d}:1", context])
    return time.monotonic() - start

def clean(driver):
    subprocess.run(buildah(driver) + ["rm", "--all"], capture_output=True)
    subprocess.run(buildah(driver) + ["umount", "--all"], capture_output=True)
    shutil.rmtree(os.path.join(WORK, driver), ignore_errors=True)

def mb(size):
    return f"{size / 1e6:,.0f} MB"

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="leave the storage roots in bench/.work/storage")
    args = ap.parse_args()
    if shutil.which("buildah") is None:
        raise SystemExit("storage-bench: buildah is not installed")
    tarball = debian_tarball()
    for driver in DRIVERS:
        clean(driver)
    os.makedirs(WORK, exist_ok=True)
    try:
        imported = {driver: import_base(driver, tarball) for driver in DRIVERS}
        base_disk = {driver: disk_used(driver) for driver in DRIVERS}
        times = {driver: [] for driver in DRIVERS}
        for index in range(args.images):
            context = write_context(index)
            order = DRIVERS if index % 2 == 0 else DRIVERS[::-1]  # alternate who goes first
            for driver in order:
                times[driver].append(build(driver, index, context))
        disk = {driver: disk_used(driver) for driver in DRIVERS}
        for driver in DRIVERS:  # every image is there
            listed = run(buildah(driver) + ["images", "--noheading", "--quiet"]).split()
            if len(listed) != args.images + 1:
                raise SystemExit(f"storage-bench: {driver} holds {len(listed)} images, expected {args.images + 1}")

        load = os.getloadavg()[0]
        print(f"buildah storage drivers: {args.images} images on a Debian 12 base "
              f"({os.path.getsize(tarball) / 1e6:.0f} MB tarball), three RUN steps each; load average {load:.1f}")
        print("| | vfs | overlay | vfs / overlay |")
        print("| --- | --- | --- | --- |")
        total = {driver: sum(times[driver]) for driver in DRIVERS}
        median = {driver: statistics.median(times[driver]) for driver in DRIVERS}
        grown = {driver: disk[driver] - base_disk[driver] for driver in DRIVERS}
        rows = [
            ("total build time", {d: f"{total[d]:.1f} s" for d in DRIVERS}, total["vfs"] / total["overlay"]),
            ("build time per image (median)", {d: f"{median[d]:.2f} s" for d in DRIVERS}, median["vfs"] / median["overlay"]),
            ("storage root after the base import (du)", {d: mb(base_disk[d]) for d in DRIVERS},
             base_disk["vfs"] / base_disk["overlay"]),
            (f"storage root after {args.images} builds (du)", {d: mb(disk[d]) for d in DRIVERS}, disk["vfs"] / disk["overlay"]),
            ("added per image", {d: mb(grown[d] / args.images) for d in DRIVERS}, grown["vfs"] / max(1, grown["overlay"])),
            ("base import (from, untar, commit)", {d: f"{imported[d]:.1f} s" for d in DRIVERS},
             imported["vfs"] / imported["overlay"]),
        ]
        for name, values, ratio in rows:
            print(f"| {name} | {values['vfs']} | {values['overlay']} | {ratio:.2f}x |")
    finally:
        if not args.keep:
            for driver in DRIVERS:
                clean(driver)
            shutil.rmtree(os.path.join(WORK, "contexts"), ignore_errors=True)

if __name__ == "__main__":
    main()
