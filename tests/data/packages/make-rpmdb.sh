#!/bin/sh
# Makes tests/data/packages/rpmdb.sqlite: a real rpm database (SQLite backend) written by
# rpm itself (Debian 12's rpm 4.18 and rpmbuild). Three packages from two tiny noarch specs
# (one with an Epoch and a subpackage, so the source name differs from the binary name)
# and one gpg-pubkey entry (a throwaway key), which the parser must skip.
# Run by hand: sh tests/data/packages/make-rpmdb.sh  (writes next to this script).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/top/SPECS" "$work/db" "$work/gnupg"
chmod 700 "$work/gnupg"

cat > "$work/top/SPECS/hello.spec" <<'SPEC'
Name: cascade-hello
Epoch: 2
Version: 1.0~rc1
Release: 3.cas
Summary: Test package with an epoch
License: MIT
BuildArch: noarch
%description
A test package for cascade's rpmdb reader.
%package doc
Summary: Its subpackage
%description doc
A subpackage: source name cascade-hello.
%files
%files doc
SPEC

cat > "$work/top/SPECS/tiny.spec" <<'SPEC'
Name: cascade-tiny
Version: 0.5
Release: 1
Summary: Test package without an epoch
License: MIT
BuildArch: noarch
%description
A second test package for cascade's rpmdb reader.
%files
SPEC

for spec in hello tiny; do
  rpmbuild --quiet --define "_topdir $work/top" -bb "$work/top/SPECS/$spec.spec"
done

rpmdb() { rpm --dbpath "$work/db" --define "_db_backend sqlite" "$@"; }
# rpm keeps the page size of an existing file. SQLite's default (4096) makes even an empty
# rpmdb 208 KiB (about 50 tables and indexes, one page each at least), so the file is
# started with 1 KiB pages, before rpm writes anything; everything else is rpm's work.
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA page_size=1024"); c.execute("VACUUM"); c.close()' "$work/db/rpmdb.sqlite"
rpmdb --initdb
rpmdb -i --nodeps --justdb --ignorearch --ignoreos $(find "$work/top/RPMS" -name '*.rpm' | sort)

GNUPGHOME="$work/gnupg" gpg --batch --quiet --passphrase '' \
  --quick-gen-key 'Cascade Test <test@example.invalid>' rsa2048 sign never
GNUPGHOME="$work/gnupg" gpg --batch --armor --export test@example.invalid > "$work/key.asc"
rpmdb --import "$work/key.asc"

rpmdb -qa --qf '%{NAME} %{EPOCH} %{VERSION} %{RELEASE} %{ARCH} %{SOURCERPM}\n'
# rpm checkpoints (TRUNCATE) when it closes the database: no -wal data is left behind.
test ! -s "$work/db/rpmdb.sqlite-wal"
cp "$work/db/rpmdb.sqlite" "$here/rpmdb.sqlite"
ls -l "$here/rpmdb.sqlite"
