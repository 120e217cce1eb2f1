#!/bin/bash
# Unattended install end to end, in QEMU (software emulation): an ISO that
# carries an answer file installs onto a blank 50 GB virtual disk; the disk
# then boots by itself into Xen and dom0, and the host is checked from its
# serial console and over SSH with the installed root password, including a
# tiny PV guest. SeaBIOS and OVMF; an ext SR with a static address; and
# broken answer files that must leave the disk untouched.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../media-lib.sh"

PW='xh-Test-pw1'
# sshpass reads it from the environment (-e): never on a command line.
export SSHPASS=$PW
MAC=52:54:00:12:34:56
NS=xh-e2e-$$
ip netns add "$NS" && ip netns exec "$NS" ip link set lo up
trap 'ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del "$NS" 2>/dev/null; t_cleanup' EXIT
in_ns() { ip netns exec "$NS" "$@"; }

check "the media are built" media_ensure_iso

answerfile() { # SRTYPE PROTO [MODE]; PACK_URL: a pack to install
        local net pack=
        [ -n "${PACK_URL:-}" ] && pack="<pack type=\"url\">$PACK_URL</pack>"
        if [ "$2" = static ]; then
                net="<admin-interface hwaddr=\"$MAC\" proto=\"static\"><ipaddr>10.0.2.20</ipaddr><subnet>255.255.255.0</subnet><gateway>10.0.2.2</gateway></admin-interface>
  <name-server>10.0.2.3</name-server>"
        else
                net="<admin-interface hwaddr=\"$MAC\" proto=\"dhcp\"/>"
        fi
        cat <<XML
<?xml version="1.0"?>
<installation mode="${3:-fresh}" srtype="$1">
  <primary-disk guest-storage="yes">${PRIMARY:-vda}</primary-disk>
  <keymap>us</keymap>
  <root-password type="plaintext">$PW</root-password>
  <source type="local"/>
  $net
  <hostname>xh-e2e</hostname>
  $pack
  <timezone>Europe/London</timezone>
  <ntp-server>10.0.2.2</ntp-server>
</installation>
XML
}

# The install disk as QEMU attaches it, by KIND: virtio (512-byte sectors),
# nvme4k (NVMe with 4096-byte logical sectors, as 4Kn RAID controllers and
# drives present themselves) or sata (AHCI on q35). The answer files of the
# last two name the disk by id, as an operator's would for real hardware.
disk_args() { # DISK
        case ${KIND:-virtio} in
        virtio) echo "-drive file=$1,format=raw,if=virtio,cache=unsafe" ;;
        nvme4k) echo "-drive file=$1,format=raw,if=none,id=d0,cache=unsafe" \
                "-device nvme,serial=XH4KN,drive=d0,logical_block_size=4096,physical_block_size=4096" ;;
        sata) echo "-drive file=$1,format=raw,if=none,id=d0,cache=unsafe -device ide-hd,drive=d0,bus=ide.0,serial=XHSATA" ;;
        esac
}

# qemu_ns NAME FIRMWARE LOG ARGS...: QEMU in the test's namespace, with the
# management NIC on QEMU's user network, SSH forwarded to 127.0.0.1:PORT.
qemu_ns() {
        local name=$1 fw=$2 log=$3 port=$4; shift 4
        local fwargs=()
        if [ "$fw" = uefi ]; then
                [ -f "$T_DIR/$name.vars" ] || cp /usr/share/OVMF/OVMF_VARS.fd "$T_DIR/$name.vars"
                fwargs=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd"
                        -drive "if=pflash,format=raw,unit=1,file=$T_DIR/$name.vars")
        fi
        : >"$log"
        # Not through a shell function: $! must be QEMU itself (ip execs it).
        ip netns exec "$NS" qemu-system-x86_64 -accel tcg,thread=multi -machine q35 -cpu qemu64 -m 3072 -smp 2 \
                -display none -monitor none -serial "file:$log" -no-reboot "${fwargs[@]}" \
                -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-${GUEST_IP:-}:22" -device "virtio-net-pci,netdev=n0,mac=$MAC" \
                "$@" >"$T_DIR/$name.qemu.log" 2>&1 &
        echo $!
}

wait_exit() { # PID TIMEOUT [LOG]: QEMU exited in time (and LOG shows no failed install)
        local start=$SECONDS
        while kill -0 "$1" 2>/dev/null; do
                if [ $((SECONDS - start)) -ge "$2" ] || { [ -n "${3:-}" ] && grep -aq 'INSTALLATION FAILED' "$3"; }; then
                        kill "$1"
                        return 1
                fi
                sleep 2
        done
}

ssh_host() { # PORT COMMAND...
        local port=$1; shift
        in_ns sshpass -e ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
                -o ConnectTimeout=10 -p "$port" root@127.0.0.1 "$@"
}

# A tiny PV guest: the dom0 kernel and a busybox initramfs that says hello.
make_guest_initramfs() {
        local d=$T_DIR/guest
        mkdir -p "$d/bin"
        cp /bin/busybox "$d/bin/busybox"
        cat >"$d/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc && /bin/busybox mount -t proc proc /proc
echo "GUEST-HELLO from PV domU: $(/bin/busybox uname -r) $(/bin/busybox cat /proc/uptime)"
/bin/busybox poweroff -f
INIT
        chmod +x "$d/init"
        (cd "$d" && find . | cpio -o -H newc 2>/dev/null | gzip -9) >"$T_DIR/guest.cpio.gz"
}
make_guest_initramfs

# A supplemental pack for the install that fetches its answer file, whose
# RPM requires the base system's version and runs a %post.
make_pack() { agent_pack "$WWW/acme-agent.iso" 'echo "posted $1" >/var/lib/acme-agent-post'; }

# Answer files over HTTP from a server in the test's namespace (the guest
# sees it as 10.0.2.2), as operators use XenServer's media.
WWW=$T_DIR/www HTTP_PORT=8088
mkdir -p "$WWW"
in_ns python3 -m http.server "$HTTP_PORT" --bind 127.0.0.1 --directory "$WWW" >"$T_DIR/http.log" 2>&1 &
# The plain ISO's unattended entry, its answerfile= pointing at URL
# (QEMU starts the ISO's own kernel and initrd with that command line; the
# ISO is the install media).
iso_unattended_cmdline() { # URL [EXTRA...]
        local url=$1; shift
        [ -f "$T_DIR/iso-grub.cfg" ] || xorriso -osirrox on -indev "$XB_ISO" -extract /boot/grub/grub.cfg \
                "$T_DIR/iso-grub.cfg" >/dev/null 2>&1
        sed -n 's|^ *linux /boot/vmlinuz \(.*\)answerfile=/answerfile.xml.*|\1|p' "$T_DIR/iso-grub.cfg" | head -1 |
                tr -d '\n'
        echo "answerfile=$url $*"
}
xorriso -osirrox on -indev "$XB_ISO" -extract /boot/vmlinuz "$T_DIR/iso-vmlinuz" -extract /boot/initrd.img \
        "$T_DIR/iso-initrd.img" >/dev/null 2>&1

install_and_boot() { # NAME FIRMWARE SRTYPE PROTO PORT
        local name=$1 fw=$2 sr=$3 proto=$4 port=$5 t pid log disk=$T_DIR/$1.disk dargs
        # XH_E2E_ONLY=PATTERN runs only the matching cases (for working on one).
        [[ "$name" == ${XH_E2E_ONLY:-*} ]] || return 0
        GUEST_IP=
        answerfile "$sr" "$proto" >"$T_DIR/$name.xml"
        check "$name: the answer file checks clean" "$XH_TOP/build/bin/xenhost-install" --check-answerfile "$T_DIR/$name.xml"
        rm -f "$disk"
        truncate -s 50G "$disk"
        read -r -a dargs <<<"$(disk_args "$disk")"
        log=$T_DIR/$name.install.serial
        if [ "${6:-}" = url ]; then
                # The plain ISO, its unattended entry's answer file on the
                # test's HTTP server: the installer brings the network up.
                cp "$T_DIR/$name.xml" "$WWW/$name.xml"
                pid=$(qemu_ns "$name" "$fw" "$log" "$port" "${dargs[@]}" \
                        -cdrom "$XB_ISO" -kernel "$T_DIR/iso-vmlinuz" -initrd "$T_DIR/iso-initrd.img" \
                        -append "$(iso_unattended_cmdline "http://10.0.2.2:$HTTP_PORT/$name.xml")")
        else
                "$XB" iso --out "$XB_OUT" --answerfile "$T_DIR/$name.xml" --iso "$T_DIR/$name.iso" >"$T_DIR/$name.build" 2>&1 ||
                        { not_ok "$name: media with the answer file"; tail -5 "$T_DIR/$name.build"; return; }
                pid=$(qemu_ns "$name" "$fw" "$log" "$port" "${dargs[@]}" \
                        -cdrom "$T_DIR/$name.iso" -boot order=dc)
        fi
        t0=$SECONDS
        if wait_exit "$pid" 900 "$log" && grep -aq 'installation complete, rebooting' "$log"; then
                # The installer's own run, from the kernel's clock: its start
                # line to the kernel's restart.
                local k0 k1
                k0=$(tr -d '\r' <"$log" | sed -n 's/^\[ *\([0-9.]*\)\] xenhost-installer: xenhost installer .* started.*/\1/p' | head -1)
                k1=$(tr -d '\r' <"$log" | sed -n 's/^\[ *\([0-9.]*\)\] reboot: Restarting system.*/\1/p' | tail -1)
                ok "$name: unattended install finished ($((SECONDS - t0)) s from power-on to reboot;" \
                        "installer start to reboot: $(echo "${k1:-0} - ${k0:-0}" | bc) s)"
                grep -a 'XENHOST-PROGRESS' "$log" | tr -d '\r' | sed 's/^/#   /' | head -12
        else
                not_ok "$name: unattended install finished"
                grep -a 'XENHOST-PROGRESS\|FAILED\|xenhost-install:' "$log" | tail -10 | sed 's/^/#   /'
                tail -c 2500 "$log" | sed 's/^/#   /'
                return
        fi
        # A 4Kn disk's image is read through a loop device with its sector
        # size (a file alone does not say where its GPT is).
        if [ "${KIND:-virtio}" = nvme4k ]; then
                check "$name: the disk is a xenhost disk (4096-byte sectors)" bash -c "l=\$(losetup -r -b 4096 -f --show '$disk') &&
                        { '$XH_TOP/build/bin/xenhost-partition' show --json \$l | jq -e '.xenhost' >/dev/null; r=\$?; losetup -d \$l; exit \$r; }"
        else
                check "$name: the disk is a xenhost disk" bash -c "'$XH_TOP/build/bin/xenhost-partition' show --json '$disk' | jq -e '.xenhost' >/dev/null"
        fi

        # Power on the installed disk alone. A static host is not where
        # QEMU's DHCP would put it: SSH is forwarded to its own address.
        log=$T_DIR/$name.boot.serial
        [ "$proto" = static ] && GUEST_IP=10.0.2.20 || GUEST_IP=
        pid=$(qemu_ns "$name" "$fw" "$log" "$port" "${dargs[@]}")
        if t=$(wait_serial "$log" 'XENHOST-HEALTH:' 400) && grep -aq 'XENHOST-HEALTH: OK' "$log"; then
                ok "$name: host boots into Xen and passes its health check ($t s after power-on)"
                grep -a 'XENHOST-HEALTH' "$log" | tr -d '\r' | sed 's/^.*XENHOST/#   XENHOST/' | head -1
        else
                not_ok "$name: host boots into Xen and passes its health check"
                grep -a 'XENHOST-HEALTH\|(XEN) Xen version\|Kernel panic\|emergency' "$log" | head -5 | sed 's/^/#   /'
                tail -c 3000 "$log" | sed 's/^/#   /'
                kill "$pid"; return
        fi
        check "$name: Xen banner on the serial line" grep -aq '(XEN) Xen version 4.17' "$log"
        [ "$fw" = uefi ] && check "$name: booted through the xenhost UEFI entry" grep -aq 'Boot.*"xenhost"' "$log"
        case $proto in
        static) check "$name: xenbr0 has the static address" grep -aq 'xenbr0=10.0.2.20/24' "$log" ;;
        *) check "$name: xenbr0 has a DHCP address" grep -aq 'xenbr0=10.0.2.15/24' "$log" ;;
        esac
        check "$name: the SR is there ($sr)" grep -aq "XENHOST-HEALTH: OK.* sr=$sr:VG_XenStorage-" "$log"
        check "$name: root logs in over SSH with the installed password" ssh_host "$port" true
        check_eq "$name: Domain-0 is listed by xl" "Domain-0" "$(ssh_host "$port" "xl list | awk 'NR==2{print \$1}'" 2>/dev/null)"
        # The inventory names the disk by id (a name that survives a
        # controller or slot change), and it is the disk the answer file named.
        [ -n "${PRIMARY:-}" ] && check_eq "$name: the inventory names the disk by id, the one the answer file named" "by-id same" \
                "$(ssh_host "$port" ". /etc/xenhost/inventory; case \$PRIMARY_DISK in /dev/disk/by-id/*) echo -n 'by-id ' ;; *) echo -n \"\$PRIMARY_DISK \" ;; esac;
                        [ \"\$(readlink -f \$PRIMARY_DISK)\" = \"\$(readlink -f $PRIMARY)\" ] && echo same || echo different" 2>/dev/null)"
        [ "${KIND:-virtio}" = nvme4k ] && check_eq "$name: the disk has 4096-byte logical sectors" 4096 \
                "$(ssh_host "$port" '. /etc/xenhost/inventory; blockdev --getss "$(readlink -f "$PRIMARY_DISK")"' 2>/dev/null)"
        check_eq "$name: inventory names the SR type and slot a" "$sr a" \
                "$(ssh_host "$port" ". /etc/xenhost/inventory; echo \$SR_TYPE \$ACTIVE_SLOT" 2>/dev/null)"
        [ "$sr" = ext ] && check "$name: the ext SR is mounted" ssh_host "$port" \
                ". /etc/xenhost/inventory; mountpoint -q /var/run/sr-mount/\$SR_UUID"
        # The tiny PV guest.
        in_ns sshpass -e scp -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
                -P "$port" "$T_DIR/guest.cpio.gz" root@127.0.0.1:/root/guest.cpio.gz >/dev/null 2>&1
        ssh_host "$port" 'k=$(ls /boot/vmlinuz-* | head -1); printf "name=\"tiny\"\ntype=\"pv\"\nkernel=\"%s\"\nramdisk=\"/root/guest.cpio.gz\"\nextra=\"console=hvc0 rdinit=/init\"\nmemory=128\nvcpus=1\non_poweroff=\"preserve\"\n" "$k" >/root/tiny.cfg; xl create /root/tiny.cfg' >/dev/null 2>&1
        if ssh_host "$port" 'for i in $(seq 1 90); do grep -q GUEST-HELLO /var/log/xen/console/guest-tiny.log 2>/dev/null && exit 0; sleep 1; done; exit 1'; then
                ok "$name: a PV guest starts and reaches its console"
        else
                not_ok "$name: a PV guest starts and reaches its console"
                ssh_host "$port" 'xl list; ls -l /var/log/xen/console; tail -5 /var/log/xen/console/guest-tiny.log' 2>&1 | sed 's/^/#   /'
        fi
        [ "${6:-}" = url ] && check "$name: the installer fetched its answer file over the network it brought up" \
                grep -aq "network: .* 10.0.2.15/24" "$T_DIR/$name.install.serial"
        [ -n "${7:-}" ] && "$7" "$name" "$port"
        ssh_host "$port" poweroff >/dev/null 2>&1
        wait_exit "$pid" 120 || true
        [ -n "${7:-}" ] || rm -f "$disk"
}

# A reinstall keeps the SR: a volume made in it on the installed host is
# there, with its bytes, after a reinstall with mode="reinstall"; a reinstall
# that fails half-way (a step made to fail on purpose) is simply run again.
KEEP_SUM=
make_sr_volume() { # NAME PORT: a volume with random bytes in the host's SR
        KEEP_SUM=$(ssh_host "$2" '. /etc/xenhost/inventory; vg=VG_XenStorage-$SR_UUID;
                lvcreate -q -y -L 16M -n xh-keep "$vg" >/dev/null && head -c 8M /dev/urandom >/root/keep &&
                dd if=/root/keep of="/dev/$vg/xh-keep" bs=1M conv=fsync status=none && sync &&
                echo "$SR_UUID $(sha256sum </root/keep | cut -d" " -f1)"' 2>/dev/null)
        check "$1: a volume with 8 MiB of random bytes is made in the SR" test -n "$KEEP_SUM"
}
reinstall_keeps_sr() { # NAME FIRMWARE PORT: reinstall over the disk of NAME
        local name=$1 fw=$2 port=$3 disk=$T_DIR/$1.disk log pid t
        [[ "$name-reinstall" == ${XH_E2E_ONLY:-*} ]] || [[ "$name" == ${XH_E2E_ONLY:-*} ]] || return 0
        [ -f "$disk" ] && [ -n "$KEEP_SUM" ] || { not_ok "$name-reinstall: an installed disk with a volume in its SR"; return; }
        answerfile lvm dhcp reinstall >"$WWW/$name-reinstall.xml"
        log=$T_DIR/$name-reinstall-fail.serial
        pid=$(qemu_ns "$name" "$fw" "$log" "$port" -drive "file=$disk,format=raw,if=virtio,cache=unsafe" \
                -cdrom "$XB_ISO" -kernel "$T_DIR/iso-vmlinuz" -initrd "$T_DIR/iso-initrd.img" \
                -append "$(iso_unattended_cmdline "http://10.0.2.2:$HTTP_PORT/$name-reinstall.xml" xenhost.test.fail_step=write-slot)")
        if wait_serial "$log" 'INSTALLATION FAILED' 600 >/dev/null; then
                ok "$name-reinstall: a reinstall failing at write-slot stops"
                check "$name-reinstall: the failure names the step and the log" \
                        grep -aq 'Installation failed: step write-slot: .*full log: /run/xenhost-install/install.log' "$log"
        else
                not_ok "$name-reinstall: a reinstall failing at write-slot stops"
                tail -c 1500 "$log" | sed 's/^/#   /'
        fi
        kill "$pid" 2>/dev/null
        wait_exit "$pid" 30 || true

        log=$T_DIR/$name-reinstall.serial
        pid=$(qemu_ns "$name" "$fw" "$log" "$port" -drive "file=$disk,format=raw,if=virtio,cache=unsafe" \
                -cdrom "$XB_ISO" -kernel "$T_DIR/iso-vmlinuz" -initrd "$T_DIR/iso-initrd.img" \
                -append "$(iso_unattended_cmdline "http://10.0.2.2:$HTTP_PORT/$name-reinstall.xml")")
        if wait_exit "$pid" 900 "$log" && grep -aq 'installation complete, rebooting' "$log"; then
                ok "$name-reinstall: the same reinstall run again finishes"
        else
                not_ok "$name-reinstall: the same reinstall run again finishes"
                grep -a 'XENHOST-PROGRESS\|FAILED\|xenhost-install:' "$log" | tail -10 | sed 's/^/#   /'
                return
        fi
        log=$T_DIR/$name-reinstall.boot.serial
        pid=$(qemu_ns "$name" "$fw" "$log" "$port" -drive "file=$disk,format=raw,if=virtio,cache=unsafe")
        if t=$(wait_serial "$log" 'XENHOST-HEALTH:' 400) && grep -aq 'XENHOST-HEALTH: OK' "$log"; then
                ok "$name-reinstall: the reinstalled host passes its health check ($t s)"
        else
                not_ok "$name-reinstall: the reinstalled host passes its health check"
                tail -c 2000 "$log" | sed 's/^/#   /'
                kill "$pid"; return
        fi
        check_eq "$name-reinstall: the SR's volume and its bytes are there" "$KEEP_SUM" \
                "$(ssh_host "$port" '. /etc/xenhost/inventory; echo "$SR_UUID $(head -c 8M "/dev/VG_XenStorage-$SR_UUID/xh-keep" | sha256sum | cut -d" " -f1)"' 2>/dev/null)"
        ssh_host "$port" poweroff >/dev/null 2>&1
        wait_exit "$pid" 120 || true
        rm -f "$disk"
}

pack_checks() { # NAME PORT: the pack of the answer file is on the host, and a new SR volume
        check_eq "$1: the pack's RPM is in the host's rpm database, its file there, its %post run" \
                "acme-agent-1.0-1.noarch acme-agent 1.0 posted 1" \
                "$(ssh_host "$2" 'echo $(rpm -q acme-agent) $(cat /usr/share/acme/agent.txt) $(cat /var/lib/acme-agent-post)' 2>/dev/null)"
        check_eq "$1: xenhost-pack on the host lists it" "acme-agent 1.0" \
                "$(ssh_host "$2" 'xenhost-pack list' 2>/dev/null | awk '$1 == "acme-agent" {print $1, $2}')"
        check_eq "$1: the base system provides xenhost $XB_VERSION to packs" "xenhost-release-$XB_VERSION-1.noarch" \
                "$(ssh_host "$2" 'rpm -q --whatprovides xenhost' 2>/dev/null)"
        make_sr_volume "$@"
}
check "a supplemental pack for the network install" make_pack
PACK_URL=http://10.0.2.2:$HTTP_PORT/acme-agent.iso install_and_boot bios-lvm-dhcp bios lvm dhcp 10022 url pack_checks
reinstall_keeps_sr bios-lvm-dhcp bios 10022
# Disk kinds ride on the other cases, to keep the run short: OVMF on a 4Kn
# NVMe drive, SeaBIOS on SATA (AHCI).
KIND=nvme4k PRIMARY=/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_XH4KN install_and_boot uefi-lvm-dhcp-nvme4k uefi lvm dhcp 10023
KIND=sata PRIMARY=/dev/disk/by-id/ata-QEMU_HARDDISK_XHSATA install_and_boot bios-ext-static-sata bios ext static 10024

# Broken answer files: the install stops before the disk is written.
broken_port=10030
broken() { # NAME XML-TRANSFORM(sed)
        local name=$1 log=$T_DIR/$1.serial disk=$T_DIR/$1.disk pid
        broken_port=$((broken_port + 1))
        [[ "$name" == ${XH_E2E_ONLY:-*} ]] || return 0
        answerfile lvm dhcp | sed "$2" >"$T_DIR/$name.xml"
        "$XB" iso --out "$XB_OUT" --answerfile "$T_DIR/$name.xml" --iso "$T_DIR/$name.iso" >/dev/null 2>&1
        truncate -s 50G "$disk"
        pid=$(qemu_ns "$name" bios "$log" "$broken_port" -drive "file=$disk,format=raw,if=virtio,cache=unsafe" \
                -cdrom "$T_DIR/$name.iso" -boot order=dc)
        if wait_serial "$log" 'INSTALLATION FAILED' 300 >/dev/null; then
                ok "$name: the install stops with an error"
                grep -a 'answerfile.xml:[0-9]*:\|xenhost-install:' "$log" | head -3 | tr -d '\r' | sed 's/^/#   /'
        else
                not_ok "$name: the install stops with an error"
                tail -c 1500 "$log" | sed 's/^/#   /'
        fi
        kill "$pid" 2>/dev/null
        wait_exit "$pid" 30 || true
        # The fingerprint of content with no non-zero block is the SHA-256 of nothing.
        check_eq "$name: the disk is still all zeros" \
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "$(fingerprint "$disk")"
        rm -f "$disk"
}
broken broken-unknown-element 's|<keymap>us</keymap>|<keymap>us</keymap><flux-capacitor/>|'
broken broken-bad-ip 's|proto="dhcp"/>|proto="static"><ipaddr>10.0.2.300</ipaddr><subnet>255.255.255.0</subnet></admin-interface>|'
broken broken-no-disk 's|<primary-disk guest-storage="yes">vda</primary-disk>|<primary-disk>vdz</primary-disk>|'
broken broken-missing-script 's|<keymap>us</keymap>|<keymap>us</keymap><script stage="filesystem-populated" type="url">file:///nonexistent/post.sh</script>|'

t_finish
