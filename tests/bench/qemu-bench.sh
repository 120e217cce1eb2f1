#!/bin/bash
# The slot-writer benchmark inside the installer environment under QEMU
# (TCG): the installer kernel and initrd, plus an appended cpio holding the
# host image, xenhost-build, zstd, dd and a bench script run as the initrd's
# first process (rdinit=). The guest writes the image to an 18 GiB virtio
# disk both ways and prints the same line as slot-bench.sh. The image lies
# in the initrd's tmpfs (RAM) for both runs. The lay-down time is what
# write-slot reports for slot_write_image alone (decompress, write, fsync,
# resize2fs, tune2fs, blkid), after its verification of the image. Not part of `make check`.
#   tests/bench/qemu-bench.sh [--build DIR] --media OUT [--runs N]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build media= runs=2
while [ $# -gt 0 ]; do
        case "$1" in
        --build) build=$2; shift 2 ;;
        --media) media=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        *) echo "qemu-bench: unknown argument $1" >&2; exit 2 ;;
        esac
done
case "$build" in /*) ;; *) build=$top/$build ;; esac
version=$(cat "$top/VERSION")
media=${media:-$build/media}
img=$media/xenhost-$version.img man=$media/xenhost-$version.manifest
kernel=$media/installer/vmlinuz initrd=$media/installer/initrd.img
for f in "$img" "$man" "$kernel" "$initrd"; do
        [ -f "$f" ] || { echo "qemu-bench: $f missing (xenhost-build initrd image --out $media)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/var/tmp}/xh-qbench.XXXXXX")
trap '[ -n "${XH_KEEP:-}" ] || rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/bench" "$root/usr/sbin" "$root/usr/bin"
cp "$img" "$root/bench/x.img"
cp "$man" "$root/bench/x.manifest"
cp "$build/bin/xenhost-build" "$root/usr/sbin/"
cp "$(command -v zstd)" "$(command -v dd)" "$root/usr/bin/"
for b in "$root/usr/sbin/xenhost-build" "$root/usr/bin/zstd" "$root/usr/bin/dd"; do
        ldd "$b" | awk '/=> \//{print $3}' | while read -r l; do
                # Merged /usr: /lib is a symlink in the initrd; keep it one.
                case "$l" in /lib/* | /lib64/*) l2=/usr$l ;; *) l2=$l ;; esac
                mkdir -p "$root$(dirname "$l2")"
                cp -L "$l" "$root$l2"
        done
done
cat >"$root/xh-bench" <<SCRIPT
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
modprobe -a virtio_pci virtio_blk
dev=/dev/vda
n=0; while [ ! -b \$dev ] && [ \$n -lt 30 ]; do sleep 1; n=\$((n + 1)); done
up() { cut -d' ' -f1 /proc/uptime; }
echo "XH-BENCH start \$(grep -c ^processor /proc/cpuinfo) cpus, \$dev \$(cat /sys/block/vda/size) sectors"
i=0
while [ \$i -lt $runs ]; do
        i=\$((i + 1))
        sync; echo 3 >/proc/sys/vm/drop_caches
        t0=0
        t1=\$(xenhost-build write-slot /bench/x.img /bench/x.manifest \$dev --label xh-dom0-a | sed -n 's/.* written in \\([0-9.]*\\) s.*/\\1/p')
        sync; echo 3 >/proc/sys/vm/drop_caches
        t2=\$(up)
        zstd -dc /bench/x.img | dd of=\$dev bs=4M oflag=direct iflag=fullblock status=none
        sync
        t3=\$(up)
        echo "XH-BENCH run \$i \$t0 \$t1 \$t2 \$t3"
done
echo "XH-BENCH done"
echo o >/proc/sysrq-trigger
sleep 30
SCRIPT
chmod +x "$root/xh-bench"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$work/extra.cpio"
# The appended archive must start 4-byte aligned: pad with zeros (skipped).
cp "$initrd" "$work/initrd"
truncate -s %512 "$work/initrd"
cat "$work/extra.cpio" >>"$work/initrd"
truncate -s 18G "$work/slot"
echo "# booting the installer kernel under TCG (a few minutes)"
timeout 1200 unshare --net qemu-system-x86_64 -accel tcg,thread=multi -machine q35 -cpu qemu64 -m 3072 -smp 2 \
        -display none -monitor none -serial "file:$work/serial" -no-reboot \
        -kernel "$kernel" -initrd "$work/initrd" -append "console=ttyS0,115200n8 rdinit=/xh-bench panic=-1" \
        -drive "file=$work/slot,format=raw,if=virtio,cache=none,aio=threads" >"$work/qemu.log" 2>&1 || true
grep -a 'XH-BENCH\|written in\|xenhost-build' "$work/serial" | sed 's/^/# /'
grep -a '^XH-BENCH run' "$work/serial" | tr -d '\r' | awk '
        { w = $5 - $4; s = $7 - $6; if (!n || w < bw) bw = w; if (!n || s < bs) bs = s; n++ }
        END { if (!n) { print "qemu-bench: no result (see the serial log)"; exit 1 }
              printf "qemu: laydown: %.2f s, stream limit: %.2f s, ratio: %.2f\n", bw, bs, bw / bs }'
