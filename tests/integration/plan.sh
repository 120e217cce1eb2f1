#!/bin/bash
# xenhost-install --dry-run [--json]: the whole install plan for every answer
# file in tests/data/answerfiles, on the machine described in
# tests/data/facts/vm.json (a 50 GB disk with xenhost 0.1.0 and an SR of 4
# volumes, a blank 100 GB disk, two NICs). Needs no disk; and the installer
# refuses to write anything but a loop device outside the installer.
. "$(dirname "$0")/../lib.sh"

D=$XH_TOP/tests/data/answerfiles
FACTS=$XH_TOP/tests/data/facts/vm.json
I=xenhost-install

plan() { # ANSWERFILE [ARGS...]: the JSON plan
        local f=$1; shift
        $I --dry-run --json --facts "$FACTS" --answerfile "$f" "$@" 2>/dev/null
}

# Every answer file: a valid one gives a whole plan; an invalid one stops
# at its problems, before any plan.
for f in "$D"/*.xml; do
        n=$(basename "$f")
        if $I --check-answerfile "$f" >/dev/null 2>&1; then
                plan "$f" >"$T_DIR/$n.json"
                check "$n: the plan is JSON with disks, files, boot, settings and facts" \
                        jq -e 'has("disks") and has("files") and has("boot") and has("settings") and has("facts") and has("errors")' \
                        "$T_DIR/$n.json"
                # Valid plans name the disk they erase with what it holds.
                if jq -e '.valid' "$T_DIR/$n.json" >/dev/null; then
                        check "$n: the erased disk is named with model, serial and contents" \
                                jq -e '.disks[0].path == "/dev/sda" and .disks[0].model == "QEMU HARDDISK" and .disks[0].serial == "QM00001" and (.disks[0].holds | test("xenhost 0.1.0"))' \
                                "$T_DIR/$n.json"
                        check "$n: every file written on the host is listed" \
                                jq -e '[.files[].path] | contains(["/etc/xenhost/inventory", "/etc/fstab", "/etc/hostname", "/boot/efi/grub/grub.cfg", "/etc/systemd/network/30-xenbr0.network"])' \
                                "$T_DIR/$n.json"
                        check "$n: the boot entry names the image's Xen and kernel" \
                                jq -e '.boot.entries[0].xen == "xen-4.17-amd64.gz" and .boot.entries[0].kernel == "vmlinuz-6.1.0-40-amd64" and (.boot.entries[0].dom0_cmdline | test("root=PARTLABEL=xh-dom0-a"))' \
                                "$T_DIR/$n.json"
                else
                        check "$n: a plan that cannot be carried out says why" jq -e '.errors | length > 0' "$T_DIR/$n.json"
                        check_fails "$n: --dry-run exits non-zero" plan "$f"
                fi
        else
                check_fails "$n: invalid: --dry-run stops at its problems" plan "$f"
                check_eq "$n: invalid: no plan is printed" "" "$(plan "$f")"
        fi
done

# full.xml: every setting the engine applies lands in a file or a command.
P=$T_DIR/full.xml.json
file_has() { # PATH TEXT: the planned file PATH holds TEXT
        jq -e --arg p "$1" --arg t "$2" '.files[] | select(.path == $p) | .content | contains($t)' "$P" >/dev/null
}
check "full: VLAN 42 on the management NIC" file_has /etc/systemd/network/15-management-vlan.netdev "Id=42"
check "full: the NIC is matched by its MAC" file_has /etc/systemd/network/20-management.network "MACAddress=52:54:00:12:34:56"
check "full: static IPv4 on xenbr0" file_has /etc/systemd/network/30-xenbr0.network "Address=192.0.2.10/24"
check "full: static IPv6 on xenbr0 (not DHCP=ipv4 only)" file_has /etc/systemd/network/30-xenbr0.network "Address=2001:db8::10/64"
check "full: DNS" file_has /etc/resolv.conf "nameserver 192.0.2.53"
check "full: NTP servers" file_has /etc/systemd/timesyncd.conf.d/xenhost.conf "NTP=192.0.2.123"
check "full: keymap" file_has /etc/vconsole.conf "KEYMAP=de"
check "full: time zone" jq -e '.files[] | select(.path == "/etc/localtime") | .kind == "symlink" and .content == "/usr/share/zoneinfo/Europe/Berlin"' "$P"
check "full: host name" file_has /etc/hostname "rack7-host3"
check "full: sshd turned off" jq -e '[.commands[].argv | join(" ")] | index("systemctl disable --quiet ssh.service") != null' "$P"
check "full: the service setting is carried out" jq -e '[.commands[].argv | join(" ")] | index("systemctl disable --quiet xendomains.service") != null' "$P"
check "full: the guest disk is erased and joins the SR" jq -e '.disks[1].path == "/dev/sdb" and .disks[1].role == "guest" and .disks[1].erase' "$P"
check "full: ext SR in the fstab" file_has /etc/fstab "/XSLocalEXT-"
check "full: write-boot-entry=false: no UEFI entry" jq -e '.boot.efi_entry.register == false' "$P"
check "full: no setting is left without a fate" jq -e '[.settings[] | select(.fate == null)] | length == 0' "$P"
check_eq "full: the root password is nowhere in the plan" 0 "$(grep -c 'full-Test-pw1' "$P")"
check "full: /etc/shadow is listed without content" jq -e '.files[] | select(.path == "/etc/shadow") | .content == null' "$P"

# reinstall.xml keeps the SR; fresh over the same disk says what it erases.
P=$T_DIR/reinstall.xml.json
check "reinstall: the SR is kept, with its UUID" jq -e '.sr.kept and .sr.uuid == "6c0f1f6e-2a4b-4c55-9d1e-0d5a7c9b8e21" and .disks[0].keep_sr' "$P"
check "reinstall: partition 7 keeps its place" jq -e '.layout.partitions[6] | .keep and .start == 87035904 and .size == 17819648' "$P"
check "reinstall: the inventory names the kept SR" file_has /etc/xenhost/inventory "SR_UUID='6c0f1f6e-2a4b-4c55-9d1e-0d5a7c9b8e21'"
check "fresh over an SR: the plan warns that its 4 volumes are erased" \
        jq -e '.warnings | map(test("erases the SR on /dev/sda and its 4 volumes")) | any' "$T_DIR/ineffective.xml.json"
text=$($I --dry-run --facts "$FACTS" --answerfile "$D/reinstall.xml" 2>/dev/null)
check_eq "reinstall: the text plan says the SR is kept" 1 "$(printf '%s\n' "$text" | grep -c 'ERASED but for its SR partition, kept byte for byte')"
check_eq "reinstall: the text plan ends saying nothing was written" "Nothing has been written." "$(printf '%s\n' "$text" | tail -1)"

# --- mode="upgrade" and mode="restore": the installed host is kept -------------
# jq -e passes on empty input: the plan must be there.
jqf() { [ -s "$2" ] && jq -e "$1" "$2" >/dev/null; }
# vm.json's sda with its boot state known: slot a (0.1.0) boots, slot b as
# SLOTB says; the media carry 0.2.0.
slots_facts() { # OUT DEFAULT A B [SDB-TOO]
        jq --arg d "$2" --arg a "$3" --arg b "$4" --arg both "${5:-}" '(.facts // .) |
                .disks[0] += {"default_slot": $d, "slot_versions": {"a": (if $a == "" then null else $a end), "b": (if $b == "" then null else $b end)}} |
                if $both != "" then .disks[1] += {"xenhost": true, "layout": "standard", "default_slot": "a", "slot_versions": {"a": "0.1.0"}} else . end' \
                "$FACTS" >"$1"
}
slots_facts "$T_DIR/up.json" a 0.1.0 ""
P=$T_DIR/up.plan.json
$I --dry-run --json --facts "$T_DIR/up.json" --answerfile "$D/upgrade.xml" >"$P" 2>/dev/null
check "upgrade: a valid plan that writes slot b with 0.2.0, tried 3 times" \
        jqf '.valid and .installed_host.written_slot == "b" and .installed_host.version == "0.2.0" and .installed_host.tries == 3 and .installed_host.default_slot == "a"' "$P"
check "upgrade: nothing is erased, the SR is kept, no file of a fresh install is written" \
        jqf '(.disks | length == 1) and .disks[0].path == "/dev/sda" and (.disks[0].erase | not) and .disks[0].keep_sr and .installed_host.keeps_sr and (.files | length == 0) and (.layout.partitions | length == 0)' "$P"
check "upgrade: the disk's setting says which slot, which version over which" \
        jqf '.settings[] | select(.field == "existing_installation") | .fate == "applied" and (.detail | test("xenhost 0.2.0 is written into slot b over nothing \\(it is empty\\)"))' "$P"
text=$($I --dry-run --facts "$T_DIR/up.json" --answerfile "$D/upgrade.xml" 2>/dev/null)
check "upgrade: the text plan names slot b, the fallback, and erases nothing" bash -c \
        "printf '%s\n' \"\$1\" | grep -q 'Slot b (xh-dom0-b) is written: xenhost 0.2.0 over empty' &&
         printf '%s\n' \"\$1\" | grep -q 'then GRUB falls back to slot a' && ! printf '%s\n' \"\$1\" | grep -q ERASED" _ "$text"
err=$($I --dry-run --facts "$T_DIR/up.json" --answerfile "$D/upgrade-settings.xml" 2>&1 >/dev/null)
check_eq "upgrade: a fresh install's settings in the file are said to have no effect" 3 \
        "$(printf '%s\n' "$err" | grep -c 'has no effect with mode upgrade: an upgrade keeps the host')"
slots_facts "$T_DIR/down.json" a 0.3.0 ""
check "upgrade: an older image is refused with one line" bash -c \
        "! $I --dry-run --facts '$T_DIR/down.json' --answerfile '$D/upgrade.xml' 2>/dev/null | grep -q '^error: existing_installation: xenhost 0.2.0 on the media is older than 0.3.0 in slot a of /dev/sda: refusing a downgrade' && exit 1 || exit 0"
sed 's|<existing-installation>sda<|<existing-installation>sdb<|' "$D/upgrade.xml" >"$T_DIR/up-sdb.xml"
check "upgrade: a disk without xenhost is refused" bash -c \
        "$I --dry-run --facts '$T_DIR/up.json' --answerfile '$T_DIR/up-sdb.xml' 2>/dev/null | grep -q '^error: existing_installation: /dev/sdb is not a xenhost disk (it holds nothing (blank))'"
check_fails "upgrade: --dry-run exits non-zero on a refused plan" $I --dry-run --facts "$T_DIR/up.json" --answerfile "$T_DIR/up-sdb.xml"
check "upgrade: an unknown boot state is refused (vm.json knows none)" bash -c \
        "$I --dry-run --facts '$FACTS' --answerfile '$D/upgrade.xml' 2>/dev/null | grep -q 'cannot read the boot state of /dev/sda'"
jq '(.facts // .) | .image = null' "$T_DIR/up.json" >"$T_DIR/noimage.json"
check "upgrade: media without an image are refused" bash -c \
        "$I --dry-run --facts '$T_DIR/noimage.json' --answerfile '$D/upgrade.xml' 2>/dev/null | grep -q '^error: no host image'"

slots_facts "$T_DIR/rs.json" a 0.1.0 0.0.9
P=$T_DIR/rs.plan.json
$I --dry-run --json --facts "$T_DIR/rs.json" --answerfile "$D/restore.xml" >"$P" 2>/dev/null
check "restore: slot b (0.0.9) boots next, tried 3 times, nothing written to a slot" \
        jqf '.valid and .installed_host.next_slot == "b" and .installed_host.written_slot == null and .installed_host.tries == 3 and (.disks[0].erase | not)' "$P"
check "restore: the disk's setting says so" \
        jqf '.settings[] | select(.field == "backup_disk") | .detail | test("slot b \\(xenhost 0.0.9\\) boots next, tried 3 times; slot a \\(0.1.0\\) stays the fallback")' "$P"
check "restore: a disk named by no element is the only xenhost disk" bash -c \
        "$I --dry-run --json --facts '$T_DIR/rs.json' --answerfile '$D/restore-any.xml' 2>/dev/null | jq -e '.valid and .installed_host.disk == \"/dev/sda\"' | grep -qx true"
check "restore: the image of no media is needed" bash -c \
        "jq '(.facts // .) | .image = null' '$T_DIR/rs.json' >'$T_DIR/rs-noimg.json' && $I --dry-run --facts '$T_DIR/rs-noimg.json' --answerfile '$D/restore.xml' >/dev/null 2>&1"
slots_facts "$T_DIR/rs2.json" a 0.1.0 0.0.9 both
check "restore: two xenhost disks and none named are refused" bash -c \
        "$I --dry-run --facts '$T_DIR/rs2.json' --answerfile '$D/restore-any.xml' 2>/dev/null | grep -q 'backup_disk: 2 disks hold xenhost (/dev/sda, /dev/sdb): name one with <backup-disk>'"
check "restore: an empty other slot is refused" bash -c \
        "$I --dry-run --facts '$T_DIR/up.json' --answerfile '$D/restore.xml' 2>/dev/null | grep -q 'slot b of /dev/sda holds no version to restore'"
jq '.facts' "$T_DIR/rs.plan.json" >"$T_DIR/rs-facts2.json"
check_eq "restore: the facts read back give the same plan" "$(jq -S . "$T_DIR/rs.plan.json")" \
        "$($I --dry-run --json --facts "$T_DIR/rs-facts2.json" --answerfile "$D/restore.xml" 2>/dev/null | jq -S .)"

# The facts round trip: planning from the facts a plan printed gives the same plan.
jq '.facts' "$T_DIR/full.xml.json" >"$T_DIR/facts2.json"
check_eq "facts read back give the same plan" "$(jq -S . "$T_DIR/full.xml.json")" \
        "$($I --dry-run --json --facts "$T_DIR/facts2.json" --answerfile "$D/full.xml" 2>/dev/null | jq -S .)"
echo '{"disks": [{"model": "no path"}]}' >"$T_DIR/badfacts.json"
check_fails "malformed facts are refused" $I --dry-run --facts "$T_DIR/badfacts.json" --answerfile "$D/full.xml"
check_fails "--facts without --dry-run is refused" $I --facts "$FACTS" --answerfile "$D/full.xml"

# Outside the installer environment nothing but a loop device is written:
# an image file (not a loop device) named as the disk is refused, untouched.
media=$T_DIR/media
mkdir -p "$media/xenhost"
printf 'not an image' >"$media/xenhost/xenhost-0.2.0.img"
cat >"$media/xenhost/xenhost-0.2.0.manifest" <<EOF
PRODUCT=xenhost
VERSION=0.2.0
BUILD=20261126
IMAGE_SHA256=$(sha256sum <"$media/xenhost/xenhost-0.2.0.img" | cut -d' ' -f1)
IMAGE_SIZE=12
IMAGE_FORMAT=ext4.zst
INSTALLED_SIZE=841154560
XEN_VERSION=4.17.5+72-g01dc8bf5e2-1
KERNEL_VERSION=6.1.0-40-amd64
SOURCE_DATE_EPOCH=1700000000
MIN_UPGRADE_FROM=0.1.0
EOF
truncate -s 50G "$T_DIR/disk.img"
sed "s|<primary-disk>sda</primary-disk>|<primary-disk>$T_DIR/disk.img</primary-disk>|; s|mode=\"reinstall\"|mode=\"fresh\"|;
     s|name=\"eth0\"|hwaddr=\"52:54:00:12:34:56\"|" \
        "$D/reinstall.xml" >"$T_DIR/file-disk.xml"
out=$($I --answerfile "$T_DIR/file-disk.xml" --media "$media" \
        --log-file "$T_DIR/install.log" 2>&1)
rc=$?
check_eq "an install onto a non-loop disk outside the installer fails" 1 "$rc"
check "it says why, in one line" bash -c "printf '%s\n' \"\$1\" | grep -q 'not the xenhost installer environment.*not a loop device'" _ "$out"
check_eq "the disk is still all zeros" "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
        "$(fingerprint "$T_DIR/disk.img")"

# --- disks that must not be written, probed on this machine ----------------
# disk_xml DISK: file-disk.xml with DISK as the primary disk.
disk_xml() {
        sed "s|<primary-disk>[^<]*</primary-disk>|<primary-disk>$1</primary-disk>|" "$T_DIR/file-disk.xml" >"$T_DIR/d.xml"
        echo "$T_DIR/d.xml"
}
# refused_plan DESC LINE DISK: --dry-run and the install both refuse DISK with
# LINE, as an error of the plan, and the disk's file is left as it was.
refused_plan() {
        local desc=$1 line=$2 disk=$3 file=${4:-$T_DIR/disk.img} before out rc
        before=$(fingerprint "$file")
        out=$($I --dry-run --answerfile "$(disk_xml "$disk")" --media "$media" 2>/dev/null)
        rc=$?
        check_eq "$desc: --dry-run exits 1" 1 "$rc"
        check_eq "$desc: the plan says why, once" 1 "$(printf '%s\n' "$out" | grep -cxF "error: primary_disk: $line")"
        out=$($I --answerfile "$T_DIR/d.xml" --media "$media" --log-file "$T_DIR/install.log" 2>&1 >/dev/null)
        rc=$?
        check_eq "$desc: the install exits 1" 1 "$rc"
        check_eq "$desc: the install stops at that line" \
                "xenhost-install: Installation failed: primary_disk: $line (full log: $T_DIR/install.log)" \
                "$(printf '%s\n' "$out" | tail -1)"
        check_eq "$desc: the disk is byte-identical" "$before" "$(fingerprint "$file")"
}
mkfs.ext4 -q -F "$T_DIR/disk.img"
LA=$(loop_attach "$T_DIR/disk.img")
refused_plan "image file attached to $LA" \
        "$T_DIR/disk.img is in use by loop device $LA, which may be mounted: detach it first (losetup -d)" \
        "$T_DIR/disk.img"
# A loop device whose file another loop device also writes: the install
# would write under it.
LB=$(loop_attach "$T_DIR/disk.img")
refused_plan "loop device $LB whose file is also on $LA" \
        "$LB is in use by loop device $LA, which may be mounted: detach it first (losetup -d)" "$LB"
# The facts carry it: a plan made later from them refuses the disk too.
$I --dry-run --json --answerfile "$(disk_xml "$LB")" --media "$media" >"$T_DIR/lb.json" 2>/dev/null
out=$($I --dry-run --facts "$T_DIR/lb.json" --answerfile "$T_DIR/d.xml" 2>/dev/null)
check_eq "facts of $LB: the plan made from them refuses it too" 1 \
        "$(printf '%s\n' "$out" | grep -cxF "error: primary_disk: $LB is in use by loop device $LA, which may be mounted: detach it first (losetup -d)")"
losetup -d "$LA" "$LB"
LR=$(loop_attach -r "$T_DIR/disk.img")
refused_plan "read-only loop device $LR" "$LR is read-only: nothing can be written to it" "$LR"
$I --dry-run --json --answerfile "$(disk_xml "$LR")" --media "$media" >"$T_DIR/lr.json" 2>/dev/null
losetup -d "$LR"
out=$($I --dry-run --facts "$T_DIR/lr.json" --answerfile "$T_DIR/d.xml" 2>/dev/null)
check_eq "facts of the read-only $LR: the plan made from them refuses it too" 1 \
        "$(printf '%s\n' "$out" | grep -cxF "error: primary_disk: $LR is read-only: nothing can be written to it")"
# Alone on its loop device, the same disk plans without an error.
LA=$(loop_attach "$T_DIR/disk.img")
check "alone on $LA, the disk plans without errors" \
        $I --dry-run --answerfile "$(disk_xml "$LA")" --media "$media"
losetup -d "$LA"
# 16 KiB short of 12 GiB: the two sizes read differently.
truncate -s $((12 * 1024 * 1024 * 1024 - 16384)) "$T_DIR/small.img"
out=$($I --dry-run --answerfile "$(disk_xml "$T_DIR/small.img")" --media "$media" 2>/dev/null)
check_eq "a disk just below 12 GiB: the error tells the sizes apart" \
        "error: $T_DIR/small.img is too small: 11.99 GiB (12884885504 bytes), xenhost needs at least 12 GiB (12884901888 bytes)" \
        "$(printf '%s\n' "$out" | grep '^error: .*too small')"

t_finish
