#!/bin/bash
# The installer's offline upgrade and restore, end to end in QEMU (software
# emulation), as an operator does them with the install media
# (DESIGN.md sections 5 and 8): they run the code of xenhost-upgrade apply
# and rollback (upgrade.h) on the installed disk.
#
#   1. version N is installed from the plain ISO (answer file over HTTP) and
#      boots; an operator's file is put in /etc/xen/auto;
#   2. the N+1 ISO (xenhost-build iso --version 99.1.0) boots with a
#      mode="upgrade" answer file: slot b gets 99.1.0, slot a is untouched;
#   3. the disk boots 99.1.0 from slot b, passes its health check, and kept
#      its configuration;
#   4. the N ISO with mode="upgrade" is refused (a downgrade), nothing written;
#   5. the N ISO with mode="restore": the disk boots 0.1.0 from slot a again.
#
# Every boot after the install runs on one copy-on-write overlay of the
# installed disk. Each step's time is reported. XH_E2E_KEEP=DIR keeps the
# installed base disk in DIR and reuses it while it is newer than the N ISO.
# Serial logs are copied to $XH_BUILD/test-logs/41-offline-upgrade/.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../media-lib.sh"

# The media carry the plain build's programs, as everywhere (media-lib.sh).
PW='xh-Test-pw1'
# sshpass reads it from the environment (-e): never on a command line.
export SSHPASS=$PW
MAC=52:54:00:12:34:58
N=$XB_VERSION N1=99.1.0
N1_OUT=$XH_TOP/build/media-n1
N1_ISO=$N1_OUT/xenhost-$N1.iso
NS=xh-e2e-off-$$
HTTP_PORT=8090 SSH_PORT=10050
LOGS=${XH_BUILD:-$XH_TOP/build}/test-logs/41-offline-upgrade
KEEP=${XH_E2E_KEEP:-$T_DIR}
mkdir -p "$KEEP"
ip netns add "$NS" && ip netns exec "$NS" ip link set lo up
save_logs() { mkdir -p "$LOGS" && cp "$T_DIR"/*.serial "$LOGS/" 2>/dev/null; }
trap 'save_logs; ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del "$NS" 2>/dev/null; t_cleanup' EXIT
in_ns() { ip netns exec "$NS" "$@"; }
T_START=$SECONDS

# --- the media: N and N+1, built with the plain build's programs (incremental) ----
t=$SECONDS
if "$XB" iso --out "$XB_OUT" >"$T_DIR/build-n.log" 2>&1; then
        ok "the N media ($N) are built ($((SECONDS - t)) s)"
else
        not_ok "the N media ($N) are built"; tail -5 "$T_DIR/build-n.log" | sed 's/^/#   /'; t_finish; exit 1
fi
t=$SECONDS
if SOURCE_DATE_EPOCH=1700000000 "$XB" iso --version "$N1" --out "$N1_OUT" >"$T_DIR/build-n1.log" 2>&1; then
        ok "the N+1 media ($N1) are built with xenhost-build iso --version $N1 ($((SECONDS - t)) s)"
else
        not_ok "the N+1 media ($N1) are built"; tail -5 "$T_DIR/build-n1.log" | sed 's/^/#   /'; t_finish; exit 1
fi

# The installer kernel, initrd and unattended command line of an ISO.
extract() { # ISO PREFIX
        xorriso -osirrox on -indev "$1" -extract /boot/grub/grub.cfg "$T_DIR/$2-grub.cfg" \
                -extract /boot/vmlinuz "$T_DIR/$2-vmlinuz" -extract /boot/initrd.img "$T_DIR/$2-initrd.img" >/dev/null 2>&1
        sed -n 's|^ *linux /boot/vmlinuz \(.*\)answerfile=/answerfile.xml.*|\1|p' "$T_DIR/$2-grub.cfg" | head -1 |
                tr -d '\n' >"$T_DIR/$2-cmdline"
}
extract "$XB_ISO" n
extract "$N1_ISO" n1

# Answer files over HTTP from the test's namespace (the guest sees 10.0.2.2).
WWW=$T_DIR/www
mkdir -p "$WWW"
in_ns python3 -m http.server "$HTTP_PORT" --bind 127.0.0.1 --directory "$WWW" >"$T_DIR/http.log" 2>&1 &
cat >"$WWW/fresh.xml" <<XML
<?xml version="1.0"?>
<installation mode="fresh" srtype="lvm">
  <primary-disk guest-storage="yes">vda</primary-disk>
  <root-password type="plaintext">$PW</root-password>
  <source type="local"/>
  <admin-interface hwaddr="$MAC" proto="dhcp"/>
  <hostname>xh-offline</hostname>
  <ntp-server>10.0.2.2</ntp-server>
</installation>
XML
cp "$XH_TOP/tests/data/answerfiles/upgrade-vda.xml" "$WWW/upgrade.xml"
cp "$XH_TOP/tests/data/answerfiles/restore-vda.xml" "$WWW/restore.xml"
for f in fresh upgrade restore; do
        check "$f.xml checks clean" "$XH_BIN/xenhost-install" --check-answerfile "$WWW/$f.xml"
done

# qemu NAME LOG DISK [MEDIA ANSWERFILE]: the machine, with the installer
# of MEDIA (n or n1) started on ANSWERFILE, or booting DISK; echoes the PID.
qemu() {
        local name=$1 log=$2 disk=$3 fmt=raw media=${4:-} iso
        local boot=()
        [[ "$disk" == *.qcow2 ]] && fmt=qcow2
        if [ -n "$media" ]; then
                [ "$media" = n ] && iso=$XB_ISO || iso=$N1_ISO
                boot=(-cdrom "$iso" -kernel "$T_DIR/$media-vmlinuz" -initrd "$T_DIR/$media-initrd.img"
                        -append "$(cat "$T_DIR/$media-cmdline")answerfile=http://10.0.2.2:$HTTP_PORT/$5")
        fi
        : >"$log"
        ip netns exec "$NS" qemu-system-x86_64 -accel tcg,thread=multi -machine q35 -cpu qemu64 -m 3072 -smp 2 \
                -display none -monitor none -serial "file:$log" -no-reboot \
                -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$SSH_PORT-:22" -device "virtio-net-pci,netdev=n0,mac=$MAC" \
                -drive "file=$disk,format=$fmt,if=virtio,cache=unsafe" "${boot[@]}" >"$T_DIR/$name.qemu.log" 2>&1 &
        echo $!
}
wait_exit() { # PID TIMEOUT [LOG]: QEMU exited in time (and LOG shows no failed install)
        local start=$SECONDS
        while kill -0 "$1" 2>/dev/null; do
                if [ $((SECONDS - start)) -ge "$2" ] || { [ -n "${3:-}" ] && grep -aq 'INSTALLATION FAILED' "$3"; }; then
                        kill "$1" 2>/dev/null
                        return 1
                fi
                sleep 2
        done
}
wait_serial() { # LOG PATTERN TIMEOUT: seconds until PATTERN shows up
        local start=$SECONDS
        while [ $((SECONDS - start)) -lt "$3" ]; do
                grep -aq -- "$2" "$1" 2>/dev/null && { echo $((SECONDS - start)); return 0; }
                sleep 1
        done
        return 1
}
ssh_host() {
        in_ns sshpass -e ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
                -o ConnectTimeout=10 -p "$SSH_PORT" root@127.0.0.1 "$@"
}
# The installer's own run, from the kernel's clock: its start line to the restart.
installer_seconds() { # LOG
        local k0 k1
        k0=$(tr -d '\r' <"$1" | sed -n 's/^\[ *\([0-9.]*\)\] xenhost-installer: xenhost installer .* started.*/\1/p' | head -1)
        k1=$(tr -d '\r' <"$1" | sed -n 's/^\[ *\([0-9.]*\)\] reboot: Restarting system.*/\1/p' | tail -1)
        echo "${k1:-0} - ${k0:-0}" | bc
}
# run_installer NAME MEDIA ANSWERFILE: the installer runs to its end on the
# host's disk; says how long it took.
run_installer() {
        local log=$T_DIR/$1.serial pid t0=$SECONDS
        pid=$(qemu "$1" "$log" "$DISK" "$2" "$3")
        if wait_exit "$pid" 600 "$log" && grep -aq 'installation complete, rebooting' "$log"; then
                ok "$1: the installer finishes ($((SECONDS - t0)) s from power-on to reboot; installer start to reboot: $(installer_seconds "$log") s)"
                grep -a 'XENHOST-PROGRESS' "$log" | tr -d '\r' | sed 's/^.*XENHOST-PROGRESS/#   XENHOST-PROGRESS/' | head -10
                return 0
        fi
        not_ok "$1: the installer finishes"
        grep -a 'XENHOST-PROGRESS\|FAILED\|xenhost-install:\|error:' "$log" | tr -d '\r' | tail -10 | sed 's/^/#   /'
        return 1
}
# boot_host NAME VERSION SLOT: the disk boots alone and passes its health
# check as VERSION on SLOT; leaves the host running (PID).
PID=
boot_host() {
        local log=$T_DIR/$1.serial t line
        PID=$(qemu "$1" "$log" "$DISK")
        if t=$(wait_serial "$log" 'XENHOST-HEALTH: \(OK\|FAILED\)' 500); then
                line=$(grep -a 'XENHOST-HEALTH: \(OK\|FAILED\)' "$log" | tr -d '\r' | sed 's/^.*XENHOST-HEALTH/XENHOST-HEALTH/' | tail -1)
                case $line in
                "XENHOST-HEALTH: OK version=$2 slot=$3 "*)
                        ok "$1: the host boots $2 from slot $3 and passes its health check ($t s after power-on)"
                        return 0 ;;
                esac
                not_ok "$1: the host boots $2 from slot $3 and passes its health check"
                echo "#   $line"
        else
                not_ok "$1: the host boots $2 from slot $3 and passes its health check (no verdict)"
                tail -c 2500 "$log" | sed 's/^/#   /'
        fi
        kill "$PID" 2>/dev/null
        return 1
}
poweroff_host() {
        ssh_host poweroff >/dev/null 2>&1
        wait_exit "$PID" 120 || true
}
status_is() { # DESCRIPTION JQ-EXPRESSION: on `xenhost-upgrade status --json` of the running host
        local s
        s=$(ssh_host xenhost-upgrade status --json 2>/dev/null)
        if jq -en --argjson s "${s:-null}" "\$s | objects | ($2)" >/dev/null 2>&1; then ok "$1"; else
                not_ok "$1"; printf '%s\n' "$s" | jq -c . 2>/dev/null | sed 's/^/#   status: /'
        fi
}
give_up() { save_logs; t_finish; exit 1; }

# --- 1. version N, installed and booted once ----------------------------------
fresh() { [ -f "$1" ] && [ "$1" -nt "$XB_ISO" ]; }
if fresh "$KEEP/base.disk"; then
        ok "the base host N is installed (reused from $KEEP)"
else
        rm -f "$KEEP/base.disk"
        truncate -s 50G "$KEEP/base.disk.tmp"
        DISK=$KEEP/base.disk.tmp
        run_installer install n fresh.xml || give_up
        mv "$KEEP/base.disk.tmp" "$KEEP/base.disk"
fi
DISK=$T_DIR/host.qcow2
qemu-img create -q -f qcow2 -b "$KEEP/base.disk" -F raw "$DISK"
boot_host boot-n "$N" a || give_up
ssh_host 'mkdir -p /etc/xen/auto && printf "name=\"kept\"\nmemory=128\n" >/etc/xen/auto/kept.cfg && sync'
KEPT=$(ssh_host 'sha256sum </etc/xen/auto/kept.cfg' 2>/dev/null)
check "an operator's guest configuration is written on N" test -n "$KEPT"
poweroff_host

# --- 2. the N+1 media upgrade the disk ------------------------------------------
run_installer upgrade n1 upgrade.xml || give_up
L=$T_DIR/upgrade.serial
check "upgrade: the plan names the disk, slot b over the empty slot, nothing erased" \
        grep -aq "^upgrade: /dev/vda (.*xenhost $N1 is written into slot b over nothing (it is empty).*nothing is erased, the SR is kept" "$L"
check "upgrade: progress runs the upgrade module's steps, write-slot among them" \
        grep -aq 'XENHOST-PROGRESS step=3/7 name=write-slot' "$L"
check "upgrade: the last progress line says done" grep -aq 'XENHOST-PROGRESS step=7/7 name=done percent=100' "$L"

# --- 3. N+1 boots from slot b with the configuration of N -------------------------
boot_host boot-n1 "$N1" b || give_up
check_eq "the inventory says $N1 in slot b, hostname kept" "$N1 b xh-offline" \
        "$(ssh_host '. /etc/xenhost/inventory; echo $PRODUCT_VERSION $ACTIVE_SLOT $(hostname)' 2>/dev/null)"
check_eq "the operator's guest configuration was carried over" "$KEPT" \
        "$(ssh_host 'sha256sum </etc/xen/auto/kept.cfg' 2>/dev/null)"
status_is "status: b runs and is the default, marked good; a holds $N, good; the last operation is mark-good" \
        ".active_slot == \"b\" and .default_slot == \"b\" and .slots.b.state == \"good\" and .slots.b.version == \"$N1\" and .slots.a.version == \"$N\" and .slots.a.state == \"good\""
poweroff_host

# --- 4. the N media refuse to upgrade to an older version ---------------------------
sum_before=$(sha256sum <"$DISK" | cut -d' ' -f1)
L=$T_DIR/downgrade.serial
t0=$SECONDS
pid=$(qemu downgrade "$L" "$DISK" n upgrade.xml)
if wait_serial "$L" 'INSTALLATION FAILED' 300 >/dev/null; then
        ok "downgrade: the N media refuse to upgrade $N1 to $N ($((SECONDS - t0)) s)"
else
        not_ok "downgrade: the N media refuse to upgrade $N1 to $N"
        tail -c 1500 "$L" | sed 's/^/#   /'
fi
kill "$pid" 2>/dev/null
wait_exit "$pid" 30 || true
check "downgrade: one line says why" grep -aq "older than $N1 in slot b of /dev/vda: refusing a downgrade" "$L"
check_eq "downgrade: the disk is untouched" "$sum_before" "$(sha256sum <"$DISK" | cut -d' ' -f1)"

# --- 5. the N media restore N -------------------------------------------------------
run_installer restore n restore.xml || give_up
check "restore: the plan says slot a ($N) boots next and slot b stays the fallback" \
        grep -aq "^restore: /dev/vda (.*slot a (xenhost $N) boots next, tried 3 times; slot b ($N1) stays the fallback" \
        "$T_DIR/restore.serial"
boot_host boot-restored "$N" a || give_up
check_eq "the inventory says $N in slot a again" "$N a xh-offline" \
        "$(ssh_host '. /etc/xenhost/inventory; echo $PRODUCT_VERSION $ACTIVE_SLOT $(hostname)' 2>/dev/null)"
check_eq "the operator's guest configuration is there" "$KEPT" "$(ssh_host 'sha256sum </etc/xen/auto/kept.cfg' 2>/dev/null)"
status_is "status: a runs and is the default again; b keeps $N1; the last operation is mark-good of a" \
        ".active_slot == \"a\" and .default_slot == \"a\" and .slots.a.state == \"good\" and .slots.b.version == \"$N1\""
poweroff_host

echo "# total: $((SECONDS - T_START)) s"
t_finish
