#!/bin/bash
# Boot time of an installed host: power-on to its XENHOST-HEALTH line, in
# SeaBIOS and OVMF, under QEMU TCG as the end-to-end tests run it (q35,
# qemu64, 2 vCPUs, 3 GiB, virtio disk, user network in a loopback-only
# namespace). Each run boots a fresh qcow2 overlay of the installed disk, so
# the disk itself is never written. The serial log's kernel timestamps split
# the time into: firmware + GRUB + Xen (power-on to the dom0 kernel's clock
# 0), kernel (to /init), initrd (to the root's systemd), userspace (to the
# health line). The figure is the ratio against the goal (40 s). Not part of
# `make check`.
#   tests/bench/boot-bench.sh [--disk IMG] [--runs N] [--goal S]
# IMG: an installed raw disk (default: tools/demo's, /var/tmp/xenhost-demo/host-disk.img).
set -euo pipefail
disk=${XH_DEMO_DIR:-/var/tmp/xenhost-demo}/host-disk.img runs=1 goal=40
while [ $# -gt 0 ]; do
        case "$1" in
        --disk) disk=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --goal) goal=$2; shift 2 ;;
        --build) shift 2 ;; # accepted for `make bench`
        *) echo "boot-bench: unknown argument $1" >&2; exit 2 ;;
        esac
done
[ -f "$disk" ] || { echo "boot-bench: no installed disk $disk (run tools/demo, or pass --disk)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/xh-bootbench.XXXXXX")
ns=xh-bootbench-$$
cleanup() {
        ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
        [ -n "${XH_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up

# The kernel timestamp of the first serial line matching REGEX.
ktime() { grep -a -m1 -- "$2" "$1" | sed -n 's/^.*\[ *\([0-9]*\.[0-9]*\)\].*$/\1/p'; }

boot() { # FIRMWARE RUN
        local fw=$1 log=$work/$1-$2.serial ov=$work/$1-$2.qcow2 fwargs=() pid start end
        qemu-img create -q -f qcow2 -F raw -b "$(realpath "$disk")" "$ov"
        if [ "$fw" = uefi ]; then
                cp /usr/share/OVMF/OVMF_VARS.fd "$work/vars.fd"
                fwargs=(-drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd
                        -drive "if=pflash,format=raw,unit=1,file=$work/vars.fd")
        fi
        : >"$log"
        start=$(date +%s.%N)
        ip netns exec "$ns" qemu-system-x86_64 -accel tcg,thread=multi -machine q35 -cpu qemu64 -m 3072 -smp 2 \
                -display none -monitor none -serial "file:$log" -no-reboot "${fwargs[@]}" \
                -netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
                -drive "file=$ov,format=qcow2,if=virtio,cache=unsafe" 2>>"$work/qemu.err" &
        pid=$!
        end=
        for _ in $(seq 1 1200); do
                if grep -aq 'XENHOST-HEALTH' "$log"; then end=$(date +%s.%N); break; fi
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.25
        done
        kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
        if [ -z "$end" ]; then
                echo "boot-bench: $fw run $2: no health line (serial log kept in $log)" >&2
                XH_KEEP=1
                return 1
        fi
        local total k_init k_root k_health
        total=$(echo "$end - $start" | bc)
        k_init=$(ktime "$log" 'Run /init as init process')
        k_root=$(ktime "$log" 'xenhost-initrd: root \|Switching root')
        k_health=$(ktime "$log" 'XENHOST-HEALTH')
        grep -a -m1 'XENHOST-HEALTH' "$log" | grep -q 'XENHOST-HEALTH: OK' || echo "boot-bench: $fw: the health check did not pass" >&2
        awk -v fw="$fw" -v t="$total" -v ki="$k_init" -v kr="$k_root" -v kh="$k_health" -v g="$goal" 'BEGIN {
                pre = t - kh
                printf "boot-bench: %-4s power-on to health %5.1f s (firmware+GRUB+Xen %4.1f, kernel %4.1f, initrd %4.1f, userspace %4.1f); ratio to the %d s goal: %.2f\n",
                        fw, t, pre, ki, kr - ki, kh - kr, g, t / g }'
}

for fw in bios uefi; do
        for i in $(seq 1 "$runs"); do boot "$fw" "$i"; done
done
