#!/bin/bash
# The interactive installer over a serial line, end to end, as an operator
# with a serial console meets it: the plain ISO boots in QEMU (SeaBIOS), its
# GRUB menu is driven over the serial line to the serial console entry, the
# installer's screens come up on that line (TERM=vt220, 80x24), are answered
# with keys typed into a terminal (tmux, attached to QEMU's serial port),
# the host is installed and rebooted from the last screen, and the installed
# disk boots into Xen and takes an SSH login with the password typed on the
# screen. Nothing of this run reaches beyond the test's network namespace.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../media-lib.sh"

for t in tmux socat sshpass qemu-system-x86_64; do
        command -v "$t" >/dev/null || { not_ok "$t is needed"; t_finish; exit 1; }
done
PW='serial-Pw-42'
export SSHPASS=$PW
HOST=xh-serial
PORT=10031
NS=xh-tui-$$
TM=(tmux -L "xh-tuiser-$$" -f /dev/null)
ip netns add "$NS" && ip netns exec "$NS" ip link set lo up
trap '"${TM[@]}" kill-server 2>/dev/null; ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null;
        ip netns del "$NS" 2>/dev/null; t_cleanup' EXIT

check "the media are built" media_ensure_iso
cd "$T_DIR" || exit 1

# The terminal: tmux at 80x24 (a vt220's size), its pane joined to QEMU's
# first serial port; the serial line's bytes are also kept in a log.
S=serial
screen() { "${TM[@]}" capture-pane -p -t "$S" 2>/dev/null; }
screen_has() { screen | grep -qE -- "$1"; }
key() { "${TM[@]}" send-keys -t "$S" "$@"; }
type_text() { "${TM[@]}" send-keys -t "$S" -l "$1"; }
wait_for() { # TEXT [SECONDS]
        local i limit=$((${2:-20} * 5))
        for ((i = 0; i < limit; i++)); do
                screen | grep -qF -- "$1" && return 0
                sleep 0.2
        done
        echo "# screen without '$1':"; screen | sed 's/^/#   /'
        return 1
}
step() { # DESCRIPTION TEXT [SECONDS] -- KEY...
        local desc=$1 text=$2 secs=20
        shift 2
        [ "${1:-}" != -- ] && { secs=$1; shift; }
        shift
        [ $# -gt 0 ] && key "$@"
        check "$desc" wait_for "$text" "$secs"
}

truncate -s 50G disk.img
ip netns exec "$NS" qemu-system-x86_64 -accel tcg,thread=multi -machine q35 -cpu qemu64 -m 3072 -smp 2 \
        -display none -monitor none -no-reboot \
        -chardev "socket,id=s0,path=$T_DIR/serial.sock,server=on,wait=off,logfile=$T_DIR/install.serial" \
        -serial chardev:s0 -netdev user,id=n0 -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:58 \
        -drive "file=$T_DIR/disk.img,format=raw,if=virtio,cache=unsafe" -cdrom "$XB_ISO" -boot order=dc \
        >qemu.log 2>&1 &
QPID=$!
for _ in $(seq 1 50); do [ -S serial.sock ] && break; sleep 0.1; done
"${TM[@]}" new-session -d -s "$S" -x 80 -y 24 "socat STDIO,rawer UNIX-CONNECT:$T_DIR/serial.sock"
t0=$SECONDS

step "the ISO's GRUB menu reaches the serial line" "(serial console)" 120 --
# The default entry puts the installer on the screen; one Down is the serial one.
key Down
sleep 0.5
key Enter
step "the serial entry starts the installer on the serial line" "Choose the keyboard layout." 300 --
echo "# installer screen after $((SECONDS - t0)) s from power-on"
check "... and says so with its terminal type" grep -aq "interactive installer on /dev/console (TERM=vt220)" install.serial
step "Enter: the welcome screen" "Welcome to the xenhost installer." -- Enter
step "Enter: the licence" "Licence: (*) Accept" -- Enter
step "accepting it: the hardware warnings" "Hardware" -- Enter
step "Enter: the disks, the virtual disk among them" "Primary disk (xenhost and the local SR):" -- Enter
check "... the disk is offered by its name" wait_for "vda"
echo "# the disks screen, as the serial terminal shows it:"
screen | sed 's/^/#   /'
check_fails "... the install media are not" screen_has 'sr0' 
step "Enter: the SR type" "SR type: (*) LVM" -- Enter
step "Enter: the source, this media" "This media carries xenhost $XB_VERSION" -- Enter
step "Enter: the supplemental packs, none on the plain media" "(this media carries no packs)" -- Enter
step "Enter: the root password" "at least 8 characters" -- Enter
type_text "$PW"; key Tab; type_text "$PW"
step "a matching password: the network" "Management interface:" -- Enter
check "... the NIC is listed with its MAC" wait_for "52:54:00:12:34:58"
# The NIC list, then DHCP or static, then (DHCP) the host name.
key Tab Tab
type_text "$HOST"
step "a host name: the time zone region" "first its region" -- Enter
step "Enter: a city of the region" "Time zone: " -- Enter
step "Enter: the summary" "These disks are ERASED:" -- Enter
check "... which names the virtual disk" wait_for "/dev/vda"
echo "# the summary screen, as the serial terminal shows it:"
screen | sed 's/^/#   /'
zone=$(screen | sed -n 's/^ *Time zone: \([^;]*\);.*/\1/p' | head -1)
check "... and the time zone" test -n "$zone"
check_eq "nothing is written before the summary is confirmed (no block of the disk allocated)" 0 \
        "$(stat -c %b disk.img)"

t1=$SECONDS
key Enter
if wait_for "Installation complete" 900; then
        ok "the install completes on the serial line ($((SECONDS - t1)) s)"
else
        not_ok "the install completes on the serial line"
        grep -a 'xenhost-install\|FAILED' install.serial | tail -5 | sed 's/^/#   /'
fi
check_fails "no kernel or child process message printed over the screens" \
        screen_has '^\[ *[0-9]+\.[0-9]+\]|mkfs|resize2fs|^mount: '
step "the end shows the answer file" "<hostname>$HOST</hostname>" -- Down Down Enter
step "Esc: back to the end" "Reboot now" -- Escape
key Home Enter
for ((i = 0; i < 120; i++)); do kill -0 "$QPID" 2>/dev/null || break; sleep 1; done
if kill -0 "$QPID" 2>/dev/null; then
        not_ok "Reboot now restarts the machine"
        screen | sed 's/^/#   /'
        kill "$QPID"
else
        ok "Reboot now restarts the machine"
fi
wait "$QPID" 2>/dev/null
"${TM[@]}" kill-server 2>/dev/null

# The installed disk alone.
ip netns exec "$NS" qemu-system-x86_64 -accel tcg,thread=multi -machine q35 -cpu qemu64 -m 3072 -smp 2 \
        -display none -monitor none -no-reboot -serial "file:$T_DIR/boot.serial" \
        -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:22" -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:58 \
        -drive "file=$T_DIR/disk.img,format=raw,if=virtio,cache=unsafe" >qemu-boot.log 2>&1 &
QPID=$!
if t=$(wait_serial boot.serial 'XENHOST-HEALTH:' 400) && grep -aq 'XENHOST-HEALTH: OK' boot.serial; then
        ok "the installed host boots into Xen and passes its health check ($t s)"
else
        not_ok "the installed host boots into Xen and passes its health check"
        tail -c 2000 boot.serial | sed 's/^/#   /'
fi
ssh_host() {
        ip netns exec "$NS" sshpass -e ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
                -o LogLevel=ERROR -o ConnectTimeout=10 -p "$PORT" root@127.0.0.1 "$@"
}
check_eq "root logs in over SSH with the password typed on the screen; the host name is the one typed" "$HOST" \
        "$(ssh_host hostname 2>/dev/null)"
check_eq "... the time zone is the one on the summary" "$zone" \
        "$(ssh_host 'readlink /etc/localtime | sed "s|.*/zoneinfo/||"' 2>/dev/null)"
check_eq "... and Domain-0 runs" "Domain-0" "$(ssh_host "xl list | awk 'NR==2{print \$1}'" 2>/dev/null)"
ssh_host poweroff >/dev/null 2>&1
for ((i = 0; i < 120; i++)); do kill -0 "$QPID" 2>/dev/null || break; sleep 1; done
kill "$QPID" 2>/dev/null
echo "# from power-on to the installed host's health: $((SECONDS - t0)) s"
t_finish
