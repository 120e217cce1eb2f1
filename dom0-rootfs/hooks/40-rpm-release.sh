#!/bin/bash
# The base system in the host's RPM database: a xenhost-release package that
# provides "xenhost = VERSION", so that the RPMs of a supplemental pack can
# require a product version (Requires: xenhost >= 1.0), as XenServer's packs
# require xenserver-release. Built and recorded with the tree's own rpm, at
# SOURCE_DATE_EPOCH, so that the same build gives the same database bytes.
# Nothing is installed but the record (--justdb): the release file itself is
# the image builder's.
set -euo pipefail
tree=$1
# shellcheck disable=SC1091
. "$tree/etc/xenhost-release"
: "${VERSION:?no VERSION in /etc/xenhost-release}" "${SOURCE_DATE_EPOCH:?SOURCE_DATE_EPOCH is not set}"
work=$(mktemp -d "$tree/tmp/xh-release.XXXXXX")
inside=/tmp/${work##*/}
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/SPECS"
cat >"$work/SPECS/xenhost-release.spec" <<SPEC
Name: xenhost-release
Version: $VERSION
Release: 1
Summary: The xenhost base system, for supplemental packs to require
License: GPL-2.0-or-later
BuildArch: noarch
Provides: xenhost = $VERSION
%description
The xenhost $VERSION base system (build ${BUILD:-unknown}): dom0, Xen and the
toolstack, laid down from the host image. Supplemental packs require it.
%files
SPEC
rpm_in_tree() { chroot "$tree" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C \
        SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" "$@"; }
rpm_in_tree rpmbuild -bb --quiet --define "_topdir $inside" --define "use_source_date_epoch_as_buildtime 1" \
        --define "clamp_mtime_to_source_date_epoch 1" --define "_buildhost xenhost" \
        "$inside/SPECS/xenhost-release.spec" >/dev/null
rpm_in_tree rpm --dbpath /var/lib/rpm -i --justdb --nodeps --noscripts "$inside/RPMS/noarch/xenhost-release-$VERSION-1.noarch.rpm" 2>&1 |
        { grep -v 'use Alien\|assuming you know' || true; } >&2
rpm_in_tree rpm --dbpath /var/lib/rpm -q --whatprovides xenhost >/dev/null
# sqlite's shared-memory index and an empty write-ahead log are made again
# when the database is opened; left here they would differ between builds.
rm -f "$tree/var/lib/rpm/rpmdb.sqlite-shm" "$tree/var/lib/rpm/rpmdb.sqlite-wal" "$tree/var/lib/rpm/.rpm.lock"
rm -rf "$tree/root/.rpmdb"
