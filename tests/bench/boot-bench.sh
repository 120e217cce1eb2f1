#!/bin/bash
# Boot time of an installed host: power-on to its XENHOST-HEALTH line, in
# SeaBIOS and OVMF, under QEMU TCG as the end-to-end tests run it (q35,
# qemu64, 2 vCPUs, 3 GiB, virtio disk, user network in a loopback-only
# namespace), beside a bare Xen host booted the same way in the same run:
# stock Debian 12 with Xen 4.17 and the same Xen and dom0 command lines,
# timed to its BARE-READY line (multi-user.target, network online, sshd
# started), built and cached by bare-xen-disk.sh. The figure is the ratio
# xenhost/bare of each firmware (of the best times with --runs N: the
# machine's other work only ever adds time). Each boot runs a fresh qcow2
# overlay, so neither disk is ever written, and one guest at a time; the load
# average at the start of each boot is printed beside it. The serial log's
# kernel timestamps split each time into: firmware + GRUB + Xen (power-on to
# the dom0 kernel's clock 0), kernel (to /init), initrd (to the root's
# systemd), userspace (to the line). The xenhost time is also given as a
# ratio to the goal (40 s). Not part of `make check`.
#   tests/bench/boot-bench.sh [--disk IMG] [--runs N] [--goal S] [--no-bare]
# IMG: an installed raw disk (default: tools/demo's, /var/tmp/xenhost-demo/host-disk.img).
# --no-bare: boot the xenhost disk only (no bare Xen disk, no xenhost/bare ratio).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
disk=${XH_DEMO_DIR:-/var/tmp/xenhost-demo}/host-disk.img runs=1 goal=40 bare=yes
while [ $# -gt 0 ]; do
        case "$1" in
        --disk) disk=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --goal) goal=$2; shift 2 ;;
        --no-bare) bare=no; shift ;;
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

# The bare Xen disk: built once per recipe, then taken from the cache.
bare_disk=
if [ "$bare" = yes ]; then
        if ! command -v mmdebstrap >/dev/null; then
                echo "boot-bench: no bare Xen disk: mmdebstrap is not installed (apt-get install mmdebstrap); xenhost figures only"
        else
                echo "boot-bench: bare Xen disk from bare-xen-disk.sh (about 2-4 minutes on a first build, then cached)"
                bare_disk=$("$here/bare-xen-disk.sh" 2>"$work/bare-build.log" | tail -n1) || bare_disk=
                if [ -z "$bare_disk" ] || [ ! -f "$bare_disk" ]; then
                        bare_disk=
                        echo "boot-bench: no bare Xen disk: $(tail -n1 "$work/bare-build.log"); xenhost figures only"
                fi
        fi
fi

# TCG guests slow down with every busy core: the times mean little without it.
echo "boot-bench: load average before the boots: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up

# The kernel timestamp of the first serial line matching REGEX.
ktime() { grep -a -m1 -- "$2" "$1" | sed -n 's/^.*\[ *\([0-9]*\.[0-9]*\)\].*$/\1/p'; }

# boot FIRMWARE NAME IMG MARKER RUN: boots IMG to the serial line MARKER,
# prints the breakdown line, and leaves the time in $took.
took=
boot() {
        local fw=$1 name=$2 img=$3 marker=$4 run=$5
        local log=$work/$fw-$name-$run.serial ov=$work/$fw-$name-$run.qcow2 fwargs=() pid start end load
        took=
        qemu-img create -q -f qcow2 -F raw -b "$(realpath "$img")" "$ov"
        if [ "$fw" = uefi ]; then
                cp /usr/share/OVMF/OVMF_VARS.fd "$work/vars.fd"
                fwargs=(-drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd
                        -drive "if=pflash,format=raw,unit=1,file=$work/vars.fd")
        fi
        : >"$log"
        load=$(cut -d' ' -f1 /proc/loadavg)
        start=$(date +%s.%N)
        ip netns exec "$ns" qemu-system-x86_64 -accel tcg,thread=multi -machine q35 -cpu qemu64 -m 3072 -smp 2 \
                -display none -monitor none -serial "file:$log" -no-reboot "${fwargs[@]}" \
                -netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
                -drive "file=$ov,format=qcow2,if=virtio,cache=unsafe" 2>>"$work/qemu.err" &
        pid=$!
        end=
        for _ in $(seq 1 1200); do
                if grep -aq -- "$marker" "$log"; then end=$(date +%s.%N); break; fi
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.25
        done
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null || true
        rm -f "$ov"
        if [ -z "$end" ]; then
                echo "boot-bench: $fw $name run $run: no $marker line (serial log kept in $log)" >&2
                XH_KEEP=1
                return 1
        fi
        local total k_init k_root k_line
        total=$(echo "$end - $start" | bc)
        k_init=$(ktime "$log" 'Run /init as init process')
        # The root's systemd: xenhost's initrd names the root it switches to;
        # initramfs-tools says nothing, and systemd's banner is the first line.
        k_root=$(ktime "$log" 'xenhost-initrd: root \|Switching root\|systemd\[1\]: systemd [0-9]')
        k_line=$(ktime "$log" "$marker")
        if [ "$name" = xenhost ]; then
                grep -a -m1 'XENHOST-HEALTH' "$log" | grep -q 'XENHOST-HEALTH: OK' ||
                        echo "boot-bench: $fw: the health check did not pass" >&2
        else
                grep -a -m1 'BARE-READY' "$log" | grep -q 'xenbr0=[0-9].* sshd=active' ||
                        echo "boot-bench: $fw: bare: $(grep -a -m1 -o 'BARE-READY.*' "$log")" >&2
        fi
        awk -v fw="$fw" -v name="$name" -v t="$total" -v ki="${k_init:-0}" -v kr="${k_root:-0}" -v kh="$k_line" \
                -v g="$goal" -v load="$load" 'BEGIN {
                pre = t - kh
                printf "boot-bench: %-4s %-7s power-on to %-6s %5.1f s (firmware+GRUB+Xen %4.1f, kernel %4.1f, initrd %4.1f, userspace %4.1f)",
                        fw, name, name == "xenhost" ? "health" : "ready", t, pre, ki, kr - ki, kh - kr
                if (name == "xenhost")
                        printf "; ratio to the %d s goal: %.2f", g, t / g
                printf " [load %s]\n", load }'
        took=$total
}

failed=0
for fw in bios uefi; do
        xs=() bs=()
        for i in $(seq 1 "$runs"); do
                if boot "$fw" xenhost "$disk" XENHOST-HEALTH "$i"; then xs+=("$took"); else failed=1; fi
                if [ -n "$bare_disk" ]; then
                        if boot "$fw" bare "$bare_disk" BARE-READY "$i"; then bs+=("$took"); else failed=1; fi
                fi
        done
        [ -n "$bare_disk" ] || continue
        if [ ${#xs[@]} -eq 0 ] || [ ${#bs[@]} -eq 0 ]; then
                echo "boot-bench: $fw: no xenhost/bare ratio (a boot did not reach its line)"
                continue
        fi
        # Best of the runs: other work on the machine only ever adds time.
        echo "${xs[*]} | ${bs[*]}" | awk -v fw="$fw" -v g="$goal" -v runs="$runs" '{
                x = $1; for (i = 1; $i != "|"; i++) if ($i < x) x = $i
                b = $(i + 1); for (i++; i <= NF; i++) if ($i < b) b = $i
                printf "boot-bench: %-4s xenhost %5.1f s, bare Xen %5.1f s%s: xenhost/bare %.2f (xenhost to the %d s goal: %.2f)\n",
                        fw, x, b, (runs > 1 ? " (best of " runs ")" : ""), x / b, g, x / g }'
done
exit "$failed"
