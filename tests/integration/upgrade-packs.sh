#!/bin/bash
# Supplemental packs across an upgrade (DESIGN.md sections 7 and 8) on a
# real xenhost disk (a loop device, the compact layout, as upgrade.sh): the
# running slot a holds the host image with signed packs installed by
# `xenhost-pack install --root`: acme-base, acme-tools (requires
# pack:acme-base), acme-old (requires xenhost < 99: not for the new version),
# acme-dep (requires pack:acme-old), acme-extra (its kept copy corrupted
# afterwards) and acme-fail (its %post fails on the new version). Checks:
# apply --dry-run lists what is carried over and what is not before
# anything is written; an upgrade with a pack whose RPMs cannot be installed
# fails without making the new slot the default; once that pack is removed,
# the upgrade carries acme-base and acme-tools into slot b (files, rpm
# database, records with their install times, kept copies) and reports
# every other pack with one line; the running slot's partition is the same
# bytes before and after every run.
# In a mount namespace of its own: a process elsewhere that makes a mount
# namespace (a QEMU in `unshare`) while the slot is mounted would otherwise
# keep that mount, and its file system, alive after umount.
if [ -z "${XH_UPGRADE_PACKS_NS:-}" ]; then
        XH_UPGRADE_PACKS_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../media-lib.sh"

U="$XH_BIN/xenhost-upgrade" P="$XH_BIN/xenhost-pack"
for t in "$U" "$P" "$XH_BIN/xenhost-partition" "$XH_BIN/xenhost-build" "$XH_BIN/xenhost-boot" rpmbuild rpm gpg gpgv jq; do
        command -v "$t" >/dev/null || { not_ok "$t is needed"; t_finish; exit 1; }
done
if [ -f "$XB_IMG" ] && [ -f "$XB_MAN" ]; then ok "the host image is there"; else check "the host image is built" media_ensure_iso; fi
cd "$T_DIR" || exit 1
mkdir -p tmp && export TMPDIR=$T_DIR/tmp

# --- RPMs and packs signed with the key of the host's keyring -------------------------
test_rpm acme-base 1.0 "" "acme-base 1.0" "echo posted-\$1 >/var/lib/acme-base-post"
test_rpm acme-tools 1.0 "" "acme-tools 1.0" ""
test_rpm acme-old 1.0 "" "acme-old 1.0" ""
test_rpm acme-dep 1.0 "" "acme-dep 1.0" ""
test_rpm acme-extra 1.0 "" "acme-extra 1.0" ""
# Installs on the running version only: the new slot's inventory says 99.1.0.
test_rpm acme-fail 1.0 "" "acme-fail 1.0" "grep -q \"PRODUCT_VERSION='$XB_VERSION'\" /etc/xenhost/inventory"
R=$T_DIR/rpmbuild/RPMS/noarch
check "rpmbuild made the test RPMs" bash -c "ls $R | grep -c 'acme-.*-1.0-1.noarch.rpm' | grep -qx 6"

mkdir -m 700 gA
GNUPGHOME=$T_DIR/gA gpg --batch --quiet --passphrase '' --quick-gen-key 'xenhost release <rel@xenhost.invalid>' ed25519 sign never 2>/dev/null
GNUPGHOME=$T_DIR/gA gpg --batch --export rel@xenhost.invalid >release.gpg
export SOURCE_DATE_EPOCH=1700000000 TZ=UTC
build() { # NAME REQUIRES...
        local n=$1; shift
        local req=() q
        for q in "$@"; do req+=(--requires "$q"); done
        GNUPGHOME=$T_DIR/gA "$P" build --originator acme --name "$n" --version 1.0 --build 1 "${req[@]}" \
                --sign rel@xenhost.invalid "$R/$n-1.0-1.noarch.rpm" -o "$n.iso" >>build.log 2>&1
}
build acme-base 'xenhost >= 0.1'
build acme-tools 'pack:acme-base >= 1.0'
build acme-old 'xenhost < 99'
build acme-dep 'pack:acme-old'
build acme-extra
build acme-fail
check "six signed packs" bash -c "ls acme-*.iso | wc -l | grep -qx 6"

# --- a host: the disk, slot a with the image, the ESP -------------------------------
truncate -s 14G disk.img
L=$(loop_attach -P disk.img)
check "the disk gets the xenhost layout" "$XH_BIN/xenhost-partition" apply "$L" --wipe
"$XH_BIN/xenhost-build" write-slot "$XB_IMG" "$XB_MAN" "${L}p3" --label xh-dom0-a >write-a.log 2>&1
mkdir -p root esp mb
ROOT=$T_DIR/root ESP=$T_DIR/esp
cleanup() { umount -l "$ROOT" "$T_DIR/mb" 2>/dev/null; t_cleanup; }
trap cleanup EXIT
mount "${L}p3" "$ROOT"
host_root_files "$ROOT" "$L"
cp release.gpg "$ROOT/etc/xenhost/keyring.gpg"
fsa=$(blkid -s UUID -o value "${L}p3")
"$XH_BIN/xenhost-boot" grub-cfg --esp "$ESP" --default a "a:$fsa:$XB_VERSION:xen-4.17-amd64.gz:vmlinuz-x:initrd-x" >/dev/null
"$XH_BIN/xenhost-boot" set-default "$ESP" a

# --- the packs on the running slot, in this order ------------------------------------
for n in acme-base acme-tools acme-old acme-dep acme-extra acme-fail; do
        check "xenhost-pack install --root: $n" "$P" install "$n.iso" --root "$ROOT"
        sleep 1 # install times one second apart: the order is the order of installs
done
check_eq "six packs recorded on the running slot" "acme-base acme-dep acme-extra acme-fail acme-old acme-tools" \
        "$("$P" list --root "$ROOT" --json | jq -r '.[].name' | xargs)"
# The kept copy of acme-extra rots: one byte of its RPM.
printf 'X' | dd of="$ROOT/var/lib/xenhost/packs/acme-extra.pack/acme-extra-1.0-1.noarch.rpm" bs=1 seek=1500 \
        conv=notrunc status=none
installed_time() { jq -r .installed "$1/var/lib/xenhost/packs/$2.json"; }
T_BASE=$(installed_time "$ROOT" acme-base) T_TOOLS=$(installed_time "$ROOT" acme-tools)

# The running slot is mounted read-only for the upgrades: its partition's
# bytes are compared before and after (a read-write mount writes its
# superblock by itself).
running_ro() { umount "$ROOT" && mount -o ro "${L}p3" "$ROOT"; }
running_sum() { umount "$ROOT" && sha256sum <"${L}p3" | cut -d' ' -f1 && mount -o ro "${L}p3" "$ROOT"; }
umount "$ROOT"
SUM_A=$(sha256sum <"${L}p3" | cut -d' ' -f1)
mount -o ro "${L}p3" "$ROOT"

mkv() { # DIR VERSION: a manifest for the image under another version, signed
        mkdir -p "$1"
        sed "s/^VERSION=.*/VERSION=$2/" "$XB_MAN" >"$1/xenhost-$2.manifest"
        ln -f "$XB_IMG" "$1/xenhost-$2.img" 2>/dev/null || cp "$XB_IMG" "$1/xenhost-$2.img"
}
mkv n1 99.1.0
# The host's keyring checks the manifest too.
GNUPGHOME=$T_DIR/gA gpg --batch --yes --armor --detach-sign --output n1/xenhost-99.1.0.manifest.asc \
        n1/xenhost-99.1.0.manifest 2>/dev/null
up() { "$U" --root "$ROOT" --esp "$ESP" --work-dir "$T_DIR/work" "$@"; }
state_sum() { cat "$ESP/grub/grubenv" "$ESP/xenhost/upgrade.state" 2>/dev/null | sha256sum; }
slot_b_sum() { dd if="${L}p4" bs=1M count=8 status=none | sha256sum; }

OLD_LINE="pack acme-old 1.0 build 1 not carried over: requires xenhost < 99, the new version is 99.1.0"
DEP_LINE="pack acme-dep 1.0 build 1 not carried over: requires pack:acme-old, which is not carried over"
EXTRA_LINE="pack acme-extra 1.0 build 1 not carried over: its kept copy does not verify: checksum mismatch: acme-extra-1.0-1.noarch.rpm"

# --- the plan: nothing written ------------------------------------------------------------
before=$(state_sum) bbefore=$(slot_b_sum)
if up apply --dry-run n1/xenhost-99.1.0.manifest >plan.out 2>plan.err; then ok "apply --dry-run"; else
        not_ok "apply --dry-run"; sed 's/^/#   /' plan.out plan.err; fi
check_eq "the plan carries acme-base, acme-tools and acme-fail over, in the order installed" \
        "acme-base 1.0 build 1|acme-tools 1.0 build 1|acme-fail 1.0 build 1" \
        "$(sed -n '/packs carried over/,/not carried over/p' plan.out | grep '^    acme' | sed 's/^ *//' | paste -sd'|')"
check "the plan says acme-old is not carried over, and why" grep -qxF "    $OLD_LINE" plan.out
check "the plan says acme-dep is not carried over, and why" grep -qxF "    $DEP_LINE" plan.out
check "the plan says acme-extra's kept copy does not verify" grep -qF "    $EXTRA_LINE" plan.out
check_eq "the plan: nothing on stderr" "" "$(cat plan.err)"
sed 's/^/# plan: /' plan.out
up apply --dry-run --json n1/xenhost-99.1.0.manifest >plan.json 2>/dev/null
check_eq "the plan in JSON: result and the packs' verdicts" \
        "planned acme-base:true acme-tools:true acme-old:false acme-dep:false acme-extra:false acme-fail:true" \
        "$(jq -r '"\(.result) " + ([.packs[] | "\(.name):\(.carried)"] | join(" "))' plan.json)"
check_eq "the plan wrote neither the boot state nor the state file" "$before" "$(state_sum)"
check_eq "the plan did not write slot b" "$bbefore" "$(slot_b_sum)"
check_eq "the plan did not write the running slot" "$SUM_A" "$(running_sum)"

# --- a pack whose RPMs cannot be installed into the new version fails the upgrade -----------
if up apply n1/xenhost-99.1.0.manifest >fail.out 2>fail.err; then not_ok "an upgrade with acme-fail fails"; else
        ok "an upgrade with acme-fail fails"; fi
check "... naming the pack and its failed %post on stderr" \
        bash -c "tail -1 fail.err | grep -q 'pack acme-fail 1.0 cannot be installed into the new system: install failed: %post of acme-fail failed'"
check "... saying the new slot is not made the default" grep -q 'slot b is not made the default' fail.err
tail -1 fail.err | sed 's/^/# failed: /'
check_eq "... grubenv still boots slot a, nothing tried" "default_slot=a try_slot=" \
        "$("$XH_BIN/xenhost-boot" show "$ESP" | sed -n '1,2p' | tr '\n' ' ' | sed 's/ $//')"
check_eq "... status: the upgrade failed at packs, slot b incomplete" "failed packs incomplete" \
        "$(up status --json | jq -r '"\(.last_operation.result) \(.last_operation.step) \(.slots.b.state)"')"
check_eq "... the running slot is the same bytes" "$SUM_A" "$(running_sum)"

# The operator takes the pack out (on the running host) and applies again.
umount "$ROOT" && mount "${L}p3" "$ROOT"
check "xenhost-pack remove acme-fail on the running slot" "$P" remove acme-fail --root "$ROOT"
umount "$ROOT"
SUM_A=$(sha256sum <"${L}p3" | cut -d' ' -f1)
mount -o ro "${L}p3" "$ROOT"

# --- the upgrade ---------------------------------------------------------------------------
if up apply n1/xenhost-99.1.0.manifest >apply.out 2>apply.err; then ok "the upgrade succeeds"; else
        not_ok "the upgrade succeeds"; sed 's/^/#   /' apply.out apply.err; fi
sed 's/^/# apply: /' apply.out apply.err
check "a warning on stderr for acme-old" grep -qxF "xenhost-upgrade: warning: $OLD_LINE" apply.err
check "a warning on stderr for acme-dep" grep -qxF "xenhost-upgrade: warning: $DEP_LINE" apply.err
check "a warning on stderr for acme-extra" grep -qF "xenhost-upgrade: warning: $EXTRA_LINE" apply.err
check_eq "the summary at the end: one line per pack, the ones left behind last" \
        "pack acme-base 1.0 build 1 carried over|pack acme-tools 1.0 build 1 carried over|$OLD_LINE|$DEP_LINE|$EXTRA_LINE" \
        "$(sed -n '/^the health check makes it the default/,$p' apply.out | sed 1d | sed 's/ (1[0-9]* bytes).*//; s/ has SHA-256.*//' | paste -sd'|')"
check_eq "grubenv: slot b is tried, slot a stays the fallback" "default_slot=a try_slot=b tries_left=3" \
        "$("$XH_BIN/xenhost-boot" show "$ESP" | sed -n '1,3p' | tr '\n' ' ' | sed 's/ $//')"
check_eq "the running slot is the same bytes after the upgrade" "$SUM_A" "$(running_sum)"

# --- the new slot -----------------------------------------------------------------------------
mount -o ro "${L}p4" mb
check_eq "acme-base's and acme-tools' files are in the new slot" "acme-base 1.0|acme-tools 1.0" \
        "$(cat mb/usr/share/acme/acme-base.txt mb/usr/share/acme/acme-tools.txt | paste -sd'|')"
check_eq "acme-base's %post ran in the new slot (a first install there)" "posted-1" "$(cat mb/var/lib/acme-base-post 2>&1)"
check_eq "no file of the packs left behind is in the new slot" "" \
        "$(ls mb/usr/share/acme/ | grep -v -e '^acme-base.txt$' -e '^acme-tools.txt$')"
mkdir -p dbcopy/var/lib && cp -a mb/var/lib/rpm dbcopy/var/lib/rpm
check_eq "rpm -qa --root (a copy of the new slot's database): acme-base and acme-tools" \
        "acme-base-1.0-1.noarch acme-tools-1.0-1.noarch" \
        "$(rpm --root "$T_DIR/dbcopy" --dbpath /var/lib/rpm -qa 2>/dev/null | grep '^acme-' | sort | xargs)"
check_eq "the new slot records acme-base and acme-tools, with kept copies" \
        "acme-base.json acme-base.pack acme-tools.json acme-tools.pack" "$(ls mb/var/lib/xenhost/packs | xargs)"
check_eq "the records keep their install times (the order of later upgrades)" "$T_BASE $T_TOOLS" \
        "$(installed_time mb acme-base) $(installed_time mb acme-tools)"
check_eq "xenhost-pack list on the new slot" "acme-base 1.0 acme-tools 1.0" \
        "$("$P" list --root "$T_DIR/mb" --json | jq -r '.[] | "\(.name) \(.version)"' | xargs)"
check "the new slot's inventory says 99.1.0" grep -q "PRODUCT_VERSION='99.1.0'" mb/etc/xenhost/inventory
check_eq "nothing of the kept copies' unpacking stays in the new slot" "" "$(ls mb/var/tmp | grep xenhost-pack)"
umount mb

t_finish
