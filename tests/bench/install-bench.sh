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
tr -d '\r' <"$work/serial" | awk '
        /xenhost-installer: xenhost installer .* started/ { gsub(/[][]/, "", $1); start = $1 + 0 }
        /XENHOST-PROGRESS step=/ {
                t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t)
                name = $0; sub(/.*name=/, "", name); sub(/ .*/, "", name)
                if (name == "done") next
                names[n] = name; times[n] = t + 0; n++ }
        /reboot: Restarting system/ { t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t); end = t + 0 }
        END {
                if (!end || !n) { print "install-bench: the install did not finish (see the serial log)"; exit 1 }
                printf "install: %.1f s from the installer'"'"'s start to the reboot;", end - start
                for (i = 0; i < n; i++) printf " %s %.1f s%s", names[i], (i + 1 < n ? times[i + 1] : end) - times[i], i + 1 < n ? "," : "\n"
        }'
