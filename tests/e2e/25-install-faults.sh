#!/bin/bash
# The install engine on a loop device of the build machine, with a failure
# injected into each step in turn (XENHOST_TEST_FAIL_STEP, read by the apply
# layer): a failure before partitioning leaves the disk byte for byte as it
# was; a later one names the step and the log, and the same install run
# again goes through. What the configure step wrote is then read back from
# slot a. The boot loader step needs a vfat mount, which this machine lacks:
# runs here end there (the QEMU installs run it for real).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../media-lib.sh"

check "the media are built" media_ensure_iso
truncate -s 50G "$T_DIR/disk.img"
LOOP=$(loop_attach "$T_DIR/disk.img") || { not_ok "a loop device"; t_finish; exit; }

cat >"$T_DIR/answer.xml" <<XML
<?xml version="1.0"?>
<installation mode="fresh" srtype="lvm">
  <primary-disk>$LOOP</primary-disk>
  <root-password type="plaintext">faults-pw-1</root-password>
  <source type="local"/>
  <admin-interface hwaddr="52:54:00:aa:bb:cc" proto="static" vlan="7">
    <ipaddr>192.0.2.20</ipaddr><subnet>255.255.255.0</subnet><gateway>192.0.2.1</gateway>
  </admin-interface>
  <name-server>192.0.2.53</name-server>
  <hostname>faulty</hostname>
  <timezone>Europe/Paris</timezone>
  <keymap>fr</keymap>
  <ntp-server>192.0.2.123</ntp-server>
  <service name="xendomains" state="disabled"/>
</installation>
XML

install() { # extra environment in "$@"; output in $T_DIR/out
        env "$@" xenhost-install --answerfile "$T_DIR/answer.xml" --image "$XB_IMG" --log-file "$T_DIR/install.log" \
                --work-dir "$T_DIR/work" >"$T_DIR/out" 2>&1
}
# The reason line, or the last line.
reason() { grep 'Installation failed' "$T_DIR/out" || tail -1 "$T_DIR/out"; }

zero=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
for step in checks verify-image; do
        install XENHOST_TEST_FAIL_STEP=$step
        check_eq "$step fails: exit code 1" 1 $?
        check "$step fails: the reason names the step and the log" \
                grep -q "Installation failed: step $step: failure injected.*full log: $T_DIR/install.log" "$T_DIR/out"
        check_eq "$step fails: the disk is untouched" "$zero" "$(fingerprint "$T_DIR/disk.img")"
done

for step in partition write-slot configure packs; do
        install XENHOST_TEST_FAIL_STEP=$step
        check_eq "$step fails: exit code 1" 1 $?
        check "$step fails: the reason names the step and the log" \
                grep -q "Installation failed: step $step: failure injected.*full log: $T_DIR/install.log" "$T_DIR/out"
        check "$step fails: the log has the step" grep -q "Step .*: $step" "$T_DIR/install.log"
        t0=$SECONDS
        install
        rc=$?
        if [ $rc -eq 0 ] || grep -q 'Installation failed: step bootloader: mounting the ESP' "$T_DIR/out"; then
                ok "$step: the same install run again gets through ($((SECONDS - t0)) s; $(reason | cut -c1-80))"
        else
                not_ok "$step: the same install run again gets through"
                sed 's/^/#   /' "$T_DIR/out" | tail -5
        fi
done

install XENHOST_TEST_FAIL_WRITE=2
check "a failed file write names the file" grep -q "step configure: cannot write /etc/hostname: failure injected" "$T_DIR/out"

# What the engine wrote into slot a, read back with the slot mounted.
install
partx -u "$LOOP" 2>/dev/null
check "the disk is a xenhost disk" bash -c "xenhost-partition show --json '$LOOP' | jq -e '.xenhost' >/dev/null"
mkdir -p "$T_DIR/slot"
if mount -o ro "${LOOP}p3" "$T_DIR/slot"; then
        S=$T_DIR/slot
        check_eq "slot a has its label" "xh-dom0-a" "$(blkid -s LABEL -o value "${LOOP}p3")"
        check "inventory: slot a, the SR" grep -q "ACTIVE_SLOT='a'" "$S/etc/xenhost/inventory"
        check_eq "hostname" "faulty" "$(cat "$S/etc/hostname")"
        check_eq "time zone" "/usr/share/zoneinfo/Europe/Paris" "$(readlink "$S/etc/localtime")"
        check "time zone file exists in the slot" test -e "$S/usr/share/zoneinfo/Europe/Paris"
        check "keymap" grep -qx "KEYMAP=fr" "$S/etc/vconsole.conf"
        check "VLAN 7 on the management NIC" grep -q "Id=7" "$S/etc/systemd/network/15-management-vlan.netdev"
        check "static address" grep -q "Address=192.0.2.20/24" "$S/etc/systemd/network/30-xenbr0.network"
        check "NTP server" grep -q "NTP=192.0.2.123" "$S/etc/systemd/timesyncd.conf.d/xenhost.conf"
        check "root's password is a yescrypt hash" grep -q '^root:\$y\$' "$S/etc/shadow"
        check_eq "shadow keeps its group and mode" "root:shadow 640" "$(stat -c '%U:%G %a' "$S/etc/shadow")"
        check_eq "the password is nowhere in the slot's /etc" "" "$(grep -rl 'faults-pw-1' "$S/etc" 2>/dev/null)"
        check "the service setting is applied (no start link left)" \
                bash -c "! ls '$S'/etc/rc[2-5].d/S*xendomains >/dev/null 2>&1"
        umount "$T_DIR/slot"
else
        not_ok "slot a mounts"
fi
check_eq "the answer file's password is not in the log" 0 "$(grep -c 'faults-pw-1' "$T_DIR/install.log")"

t_finish
