#!/bin/bash
# A whole unattended install under QEMU (TCG), timed from the kernel's clock
# on the serial line: the installer's start to the reboot, and each step
# (from its XENHOST-PROGRESS line to the next). Not part of `make check`.
#   tests/bench/install-bench.sh [--build DIR] [--media OUT]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build media=
while [ $# -gt 0 ]; do
        case "$1" in
        --build) build=$2; shift 2 ;;
        --media) media=$2; shift 2 ;;
        *) echo "install-bench: unknown argument $1" >&2; exit 2 ;;
        esac
done
case "$build" in /*) ;; *) build=$top/$build ;; esac
media=${media:-$build/media}
[ -f "$media/installer/initrd.img" ] || { echo "install-bench: no media in $media (xenhost-build all --out $media)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/xh-ibench.XXXXXX")
trap '[ -n "${XH_KEEP:-}" ] || rm -rf "$work"' EXIT
cat >"$work/answer.xml" <<XML
<?xml version="1.0"?>
<installation mode="fresh" srtype="lvm">
  <primary-disk>vda</primary-disk>
  <root-password type="plaintext">bench-pw-1</root-password>
  <source type="local"/>
  <admin-interface hwaddr="52:54:00:12:34:56" proto="dhcp"/>
  <hostname>bench</hostname>
</installation>
XML
"$build/bin/xenhost-build" iso --out "$media" --answerfile "$work/answer.xml" --iso "$work/bench.iso" >"$work/build.log" 2>&1
truncate -s 50G "$work/disk"
echo "# installing under TCG (about 2 minutes)"
timeout 900 unshare --net qemu-system-x86_64 -accel tcg,thread=multi -machine q35 -cpu qemu64 -m 3072 -smp 2 \
        -display none -monitor none -serial "file:$work/serial" -no-reboot \
        -netdev user,id=n0 -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56 \
        -drive "file=$work/disk,format=raw,if=virtio,cache=unsafe" -cdrom "$work/bench.iso" -boot order=dc \
        >"$work/qemu.log" 2>&1 || true
# "NAME SECONDS" for the installer's start, each step and the reboot, from
# the kernel's timestamps.
tr -d '\r' <"$work/serial" | sed -n \
        -e 's/^\[ *\([0-9.]*\)\] xenhost-installer: xenhost installer .* started.*/start \1/p' \
        -e 's/^\[ *\([0-9.]*\)\] XENHOST-PROGRESS step=[0-9]*\/[0-9]* name=\([a-z-]*\) .*/\2 \1/p' \
        -e 's/^\[ *\([0-9.]*\)\] reboot: Restarting system.*/end \1/p' | awk '
        BEGIN { n = 0 }
        $1 == "start" { start = $2; next }
        $1 == "end" { end = $2; next }
        $1 == "done" { next }
        { names[n] = $1; times[n] = $2; n++ }
        END {
                if (!end || !n || !start) { print "install-bench: the install did not finish (see the serial log)"; exit 1 }
                printf "install: %.1f s from the installer'"'"'s start to the reboot: probe and plan %.1f s", end - start, times[0] - start
                for (i = 0; i < n; i++) printf ", %s %.1f s", names[i], (i + 1 < n ? times[i + 1] : end) - times[i]
                printf "\n"
        }'
