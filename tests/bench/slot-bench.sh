#!/bin/bash
# Lay-down benchmark of the slot writer: for one host image and one target
# device, the time of `xenhost-build write-slot` (decompress, write, grow,
# rename) against the stream limit `zstd -dc IMAGE | dd oflag=direct` of the
# same bytes to the same device, and their ratio. Not part of `make check`.
#
#   tests/bench/slot-bench.sh [--build DIR] [--image IMG --manifest MAN] [--size BYTES] [--runs N]
#   tests/bench/slot-bench.sh --device DEV ...   (a given block device instead of a loop device)
#
# Fairness: before each timed run the image is read once (cat > /dev/null), so
# both start with it in the page cache, and the device's dirty pages are
# flushed (sync) and the page cache dropped for the device. Both end with
# their data on the device: write-slot fsyncs, the stream limit runs sync.
# The lay-down time is what write-slot reports for slot_write_image alone
# (decompress, write, fsync, resize2fs, tune2fs, blkid), after its
# verification of the image against the manifest (the caller's job).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build image= manifest= size=$((18 * 1024 * 1024 * 1024)) runs=3 device=
while [ $# -gt 0 ]; do
        case "$1" in
        --build) build=$2; shift 2 ;;
        --image) image=$2; shift 2 ;;
        --manifest) manifest=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --device) device=$2; shift 2 ;;
        *) echo "slot-bench: unknown argument $1" >&2; exit 2 ;;
        esac
done
case "$build" in /*) ;; *) build=$top/$build ;; esac
xb=$build/bin/xenhost-build
version=$(cat "$top/VERSION")
if [ -z "$image" ]; then
        out=${XH_MEDIA_OUT:-$build/media}
        image=$out/xenhost-$version.img manifest=$out/xenhost-$version.manifest
        if [ ! -f "$image" ]; then
                echo "# building the host image in $out"
                "$xb" image --out "$out" >/dev/null
        fi
fi
[ -n "$manifest" ] || manifest=${image%.img}.manifest
grep -q '^IMAGE_FORMAT=ext4.zst$' "$manifest" || { echo "slot-bench: $image is not an ext4.zst image" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/xh-bench.XXXXXX")
loop=
cleanup() {
        [ -z "$loop" ] || losetup -d "$loop" 2>/dev/null || true
        rm -rf "$work"
}
trap cleanup EXIT
if [ -z "$device" ]; then
        truncate -s "$size" "$work/slot"
        loop=$(losetup -f --show "$work/slot")
        device=$loop
fi

prepare() {
        cat "$image" >/dev/null
        sync
        blockdev --flushbufs "$device" 2>/dev/null || true
        echo 1 >/proc/sys/vm/drop_caches 2>/dev/null || true
        cat "$image" >/dev/null
}
now() { date +%s.%N; }

echo "# image $image ($(stat -c %s "$image") bytes, $(zstd -lv "$image" 2>/dev/null | sed -n 's/.*Decompressed Size: .*(\([0-9]*\) B).*/\1/p') bytes of ext4)"
echo "# device $device ($(blockdev --getsize64 "$device") bytes); image pre-read into the page cache before each run"
best_w= best_s=
for i in $(seq "$runs"); do
        prepare
        "$xb" write-slot "$image" "$manifest" "$device" --label xh-dom0-a >"$work/w.out"
        prepare
        t2=$(now)
        zstd -dc "$image" | dd of="$device" bs=4M oflag=direct iflag=fullblock status=none
        sync
        t3=$(now)
        w=$(sed -n 's/.* written in \([0-9.]*\) s.*/\1/p' "$work/w.out") s=$(echo "$t3 - $t2" | bc)
        printf '# run %d: laydown %.2f s, stream limit %.2f s\n' "$i" "$w" "$s"
        if [ -z "$best_w" ] || [ "$(echo "$w < $best_w" | bc)" = 1 ]; then best_w=$w; fi
        if [ -z "$best_s" ] || [ "$(echo "$s < $best_s" | bc)" = 1 ]; then best_s=$s; fi
done
echo "# best of $runs runs each"
printf 'laydown: %.2f s, stream limit: %.2f s, ratio: %.2f\n' "$best_w" "$best_s" "$(echo "scale=4; $best_w / $best_s" | bc)"
