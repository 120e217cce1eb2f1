#!/bin/bash
# Signatures and trust (DESIGN.md section 3): gpgv sees only the keyring it
# is given (never ~/.gnupg), checks the bytes that are parsed, and once a
# keyring is configured a signature is required: by xenhost-build verify,
# by the install engine (the media's xenhost/keyring.gpg, which the host
# keeps as /etc/xenhost/keyring.gpg) and by xenhost-upgrade (the host's
# keyring). --insecure-unsigned lets an unsigned manifest through with a
# warning; a bad signature never gets through. Bounded inputs: a manifest
# that is a FIFO, /dev/zero or 20 KiB, an image longer than IMAGE_SIZE.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../media-lib.sh"

B="$XH_BIN/xenhost-build" U="$XH_BIN/xenhost-upgrade"
for t in "$B" "$U" "$XH_BIN/xenhost-install" gpg gpgv jq debugfs; do
        command -v "$t" >/dev/null || { not_ok "$t is needed"; t_finish; exit 1; }
done
# The media (built here when this runs first on a clean tree), before
# TMPDIR points at the test's own directory: the build's dracut runs in a
# chroot of the dom0 tree, where that directory does not exist.
check "the media are built" media_ensure_iso
cd "$T_DIR" || exit 1
# gpgv's private homes go here: none may be left behind.
mkdir -p tmp
export TMPDIR=$T_DIR/tmp

# --- keys: the release key, and another one -----------------------------------
mkdir -m 700 gA gB
GNUPGHOME=$T_DIR/gA gpg --batch --quiet --passphrase '' --quick-gen-key 'xenhost release <rel@xenhost.invalid>' ed25519 sign never 2>/dev/null
GNUPGHOME=$T_DIR/gB gpg --batch --quiet --passphrase '' --quick-gen-key 'someone else <other@xenhost.invalid>' ed25519 sign never 2>/dev/null
GNUPGHOME=$T_DIR/gA gpg --batch --export rel@xenhost.invalid >release.gpg
GNUPGHOME=$T_DIR/gB gpg --batch --export other@xenhost.invalid >other.gpg
sign() { # KEYHOME MANIFEST
        GNUPGHOME=$T_DIR/$1 gpg --batch --yes --armor --detach-sign --output "$2.asc" "$2" 2>/dev/null
}
check "the test keys exist" test -s release.gpg -a -s other.gpg

# --- xenhost-build verify on a small image --------------------------------------
mkdir -p small && cd small || exit 1
printf 'image bytes' >x.img
printf 'PRODUCT=xenhost\nVERSION=1.0.0\nBUILD=t\nIMAGE_SHA256=%s\nIMAGE_SIZE=11\nINSTALLED_SIZE=1\nXEN_VERSION=4.17\nKERNEL_VERSION=6.1\nSOURCE_DATE_EPOCH=1\nMIN_UPGRADE_FROM=0.1.0\n' \
        "$(sha256sum <x.img | cut -d' ' -f1)" >x.manifest
sign gA x.manifest
# ~/.gnupg holds a keyring of the same bare name with the signer's key: a
# bare name must not find it.
mkdir -p home/.gnupg && chmod 700 home/.gnupg
cp ../release.gpg home/.gnupg/keyring.gpg
cp ../other.gpg keyring.gpg
cp ../release.gpg release.gpg
v() { HOME=$T_DIR/small/home "$B" verify "$@"; }
one_line() { # DESCRIPTION EXPECTED-TEXT COMMAND...: fails with one line on stderr holding the text
        local desc=$1 want=$2; shift 2
        if "$@" >out 2>err; then not_ok "$desc (succeeded)"; return; fi
        if [ "$(wc -l <err)" -eq 1 ] && grep -qF -- "$want" err; then ok "$desc: $(cat err)"
        else not_ok "$desc"; sed 's/^/#   /' err; fi
}
check "a good signature, keyring by a relative path" v x.img x.manifest --keyring release.gpg
check "verify says the signature is good" bash -c "HOME='$T_DIR/small/home' '$B' verify x.img x.manifest --keyring release.gpg | grep -q 'signature good'"
one_line "a signature by a key not in the relative keyring is refused (~/.gnupg has a keyring.gpg with it)" \
        "does not verify with keyring keyring.gpg" v x.img x.manifest --keyring keyring.gpg
one_line "a keyring file that does not exist says so" "keyring missing.gpg does not exist" \
        v x.img x.manifest --keyring missing.gpg
check_fails "... and does not say No public key" grep -q 'No public key' err
cp x.manifest u.manifest
one_line "an unsigned manifest with a keyring is refused" "u.manifest is not signed" v x.img u.manifest --keyring release.gpg
sed 's/^BUILD=t$/BUILD=u/' x.manifest >e.manifest && cp x.manifest.asc e.manifest.asc
one_line "an edited signed manifest is refused" "does not verify" v x.img e.manifest --keyring release.gpg
mkfifo fifo.manifest
t0=$SECONDS
one_line "a FIFO as the manifest is refused at once" "fifo.manifest is not a regular file" timeout 20 "$B" verify x.img fifo.manifest
check_eq "... without waiting" yes "$([ $((SECONDS - t0)) -lt 5 ] && echo yes)"
one_line "/dev/zero as the manifest is refused" "/dev/zero is not a regular file" timeout 20 "$B" verify x.img /dev/zero
head -c 20000 /dev/zero | tr '\0' '#' >big.manifest
one_line "a 20 KB manifest is refused" "big.manifest is larger than 16 KiB: not a manifest" "$B" verify x.img big.manifest
printf 'image bytes, and a lot more after them' >long.img
one_line "an image longer than IMAGE_SIZE is refused" "long.img is larger than the manifest's IMAGE_SIZE" \
        "$B" verify long.img x.manifest
sed 's|^VERSION=.*|VERSION=../../../etc/x|' x.manifest >dots.manifest
one_line "VERSION=../../../etc/x is refused" "VERSION '../../../etc/x' is not a version" "$B" verify x.img dots.manifest
sed 's|^VERSION=.*|VERSION=1.0\x1b[2J\x1b[31m|' x.manifest >esc.manifest
one_line "an escape sequence in VERSION is refused, escaped" 'VERSION holds a control or non-ASCII character: '"'"'1.0\x1b[2J\x1b[31m'"'" \
        "$B" verify x.img esc.manifest
check_fails "... and no escape character reaches the terminal" grep -q $'\x1b' err
sed 's|^VERSION=.*|VERSION=|' x.manifest >empty.manifest
one_line "an empty VERSION is refused" "VERSION is empty" "$B" verify x.img empty.manifest
check_eq "gpgv's private homes are all removed" "" "$(ls "$T_DIR/tmp")"
cd "$T_DIR" || exit 1

# --- the install engine with the media's keyring (loop device) -------------------
mkdir -p media/xenhost
M=$T_DIR/media/xenhost
cp "$XB_IMG" "$M/"
cp "$XB_MAN" "$M/"
MAN=$M/$(basename "$XB_MAN")
cp release.gpg "$M/keyring.gpg"
truncate -s 50G disk.img
LOOP=$(loop_attach disk.img) || { not_ok "a loop device"; t_finish; exit 1; }
cat >answer.xml <<XML
<?xml version="1.0"?>
<installation mode="fresh" srtype="lvm">
  <primary-disk>$LOOP</primary-disk>
  <root-password type="plaintext">trust-pw-1</root-password>
  <source type="local"/>
  <admin-interface name="eth0" proto="dhcp"/>
  <hostname>trusted</hostname>
</installation>
XML
install() { # extra environment, then --, then extra options; output in out
        local envs=()
        while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
        [ "${1:-}" = -- ] && shift
        env "${envs[@]}" xenhost-install --answerfile answer.xml --media "$T_DIR/media" --log-file "$T_DIR/install.log" \
                --work-dir "$T_DIR/work" "$@" >out 2>&1
}
zero=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

rm -f "$MAN.asc"
install
check_eq "unsigned image, media keyring: refused" 1 $?
check "... the reason says it is not signed" grep -q "Installation failed: step verify-image: .*is not signed" out
check_eq "... the disk is all zeros" "$zero" "$(fingerprint disk.img)"

sign gB "$MAN"
install -- --insecure-unsigned
check_eq "a signature by another key, even with --insecure-unsigned: refused" 1 $?
check "... the reason says the signature does not verify" grep -q "step verify-image: signature .* does not verify" out
check_eq "... the disk is all zeros" "$zero" "$(fingerprint disk.img)"

rm -f "$MAN.asc"
: >install.log
install XENHOST_TEST_FAIL_STEP=partition -- --insecure-unsigned
check "unsigned with --insecure-unsigned gets past verification (to the partition step)" \
        grep -q "Installation failed: step partition: failure injected" out
check "... with a warning on stderr" grep -q "^warning: .*is not signed .*--insecure-unsigned" out
check "... and in the log" grep -q "warning: .*is not signed .*--insecure-unsigned" install.log

sign gA "$MAN"
install
rc=$?
if [ $rc -eq 0 ] || grep -q 'Installation failed: step bootloader: mounting the ESP' out; then
        ok "a signed image with the media keyring installs (up to the boot loader, which needs vfat)"
else
        not_ok "a signed image with the media keyring installs"; sed 's/^/#   /' out | tail -5
fi
check "the log says the signature verified" grep -q "signature verifies with the keyring" install.log
partx -u "$LOOP" 2>/dev/null
mkdir -p slot
if mount -o ro "${LOOP}p3" slot; then
        check_eq "slot a keeps the media keyring as /etc/xenhost/keyring.gpg (0644)" \
                "$(sha256sum <release.gpg) 644" "$(sha256sum <slot/etc/xenhost/keyring.gpg) $(stat -c %a slot/etc/xenhost/keyring.gpg)"
        umount slot
else
        not_ok "slot a mounts"
fi
losetup -d "$LOOP" 2>/dev/null
rm -f disk.img

# --- the upgrader on a host that keeps a keyring ----------------------------------
truncate -s 14G host.img
L=$(loop_attach -P host.img)
check "the host disk gets the xenhost layout" "$XH_BIN/xenhost-partition" apply "$L" --wipe
"$B" write-slot "$XB_IMG" "$XB_MAN" "${L}p3" --label xh-dom0-a >write-a.log 2>&1
mkdir -p root esp
mount "${L}p3" root
ROOT=$T_DIR/root ESP=$T_DIR/esp
trap 'umount -l "$ROOT" 2>/dev/null; t_cleanup' EXIT
mkdir -p "$ROOT/etc/xenhost"
host_root_files "$ROOT" "$L"
cp release.gpg "$ROOT/etc/xenhost/keyring.gpg"
fsa=$(blkid -s UUID -o value "${L}p3")
"$XH_BIN/xenhost-boot" grub-cfg --esp "$ESP" --default a "a:$fsa:$XB_VERSION:xen-4.17-amd64.gz:vmlinuz-x:initrd-x" >/dev/null
"$XH_BIN/xenhost-boot" set-default "$ESP" a
up() { "$U" --root "$ROOT" --esp "$ESP" --work-dir "$T_DIR/work" "$@"; }
mkv() { # DIR VERSION: a manifest for the image under another version
        mkdir -p "$1"
        sed "s/^VERSION=.*/VERSION=$2/" "$XB_MAN" >"$1/xenhost-$2.manifest"
        ln -f "$XB_IMG" "$1/xenhost-$2.img" 2>/dev/null || cp "$XB_IMG" "$1/xenhost-$2.img"
}
state_sum() { cat "$ESP/grub/grubenv" "$ESP/xenhost/upgrade.state" 2>/dev/null | sha256sum; }
slot_b_sum() { dd if="${L}p4" bs=1M count=8 status=none | sha256sum; }
refused() { # NAME EXPECTED-IN-ERROR ARGS...
        local name=$1 want=$2 before bbefore; shift 2
        before=$(state_sum) bbefore=$(slot_b_sum)
        if up apply "$@" >out 2>err; then not_ok "$name is refused"; else ok "$name is refused"; fi
        check_eq "$name: one line saying so" "1 yes" "$(wc -l <err) $(grep -q -- "$want" err && echo yes)"
        [ "$(wc -l <err)" -eq 1 ] || sed 's/^/#   /' err
        check_eq "$name: the boot state and slot b are untouched" "$before $bbefore" "$(state_sum) $(slot_b_sum)"
}
mkv n1 99.1.0
mkv n2 99.2.0 && sign gB n2/xenhost-99.2.0.manifest
mkv n3 99.3.0 && sign gA n3/xenhost-99.3.0.manifest && sed -i 's/^BUILD=.*/BUILD=evil/' n3/xenhost-99.3.0.manifest
mkv n4 99.4.0 && sign gA n4/xenhost-99.4.0.manifest
refused "an unsigned N+1 on a host with a keyring" "is not signed" n1/xenhost-99.1.0.manifest
refused "a signature by another key, with --insecure-unsigned" "does not verify" --insecure-unsigned n2/xenhost-99.2.0.manifest
refused "an edited signed manifest, with --insecure-unsigned" "does not verify" --insecure-unsigned n3/xenhost-99.3.0.manifest
refused "--keyring naming a file that does not exist" "keyring nothere.gpg does not exist" --keyring nothere.gpg n4/xenhost-99.4.0.manifest
if up apply --insecure-unsigned n1/xenhost-99.1.0.manifest >out 2>err; then
        ok "the unsigned N+1 is applied with --insecure-unsigned"
else
        not_ok "the unsigned N+1 is applied with --insecure-unsigned"; sed 's/^/#   /' err out | tail -5
fi
check "... with a warning line on stderr" grep -q "warning: the manifest .* is not signed .*--insecure-unsigned" err
check_eq "... slot b is tried with 99.1.0" "trying 99.1.0" "$(up status --json | jq -r '"\(.slots.b.state) \(.slots.b.version)"')"
check "the try is ended (rollback)" up rollback
if up apply n4/xenhost-99.4.0.manifest >out 2>err; then ok "a signed N+1 is applied"; else
        not_ok "a signed N+1 is applied"; sed 's/^/#   /' err | tail -3; fi
check_eq "... slot b is tried with 99.4.0" "trying 99.4.0" "$(up status --json | jq -r '"\(.slots.b.state) \(.slots.b.version)"')"
check_eq "gpgv's private homes are all removed" "" "$(ls "$T_DIR/tmp")"

t_finish
