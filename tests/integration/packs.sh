#!/bin/bash
# Supplemental packs (DESIGN.md section 7) end to end on a root directory:
# real RPMs made with rpmbuild (a file, a %post script, a dependency of one
# pack's RPM on another's), packs built, signed, verified and installed with
# librpm into a fresh root that has no rpm database (a Debian dom0), checked
# with rpm -qa --root, the files, the %post effect and `list --json`, then
# upgraded and removed. Every bad pack gives its one line and changes nothing
# in the root (a fingerprint of every path, size, mode, mtime and content).
. "$(dirname "$0")/../lib.sh"

P="$XH_BIN/xenhost-pack"
for t in "$P" rpmbuild rpm gpg gpgv jq xorriso; do
        command -v "$t" >/dev/null || { not_ok "$t is needed"; t_finish; exit 1; }
done
cd "$T_DIR" || exit 1
mkdir -p tmp && export TMPDIR=$T_DIR/tmp

# --- RPMs ---------------------------------------------------------------------------
test_rpm acme-base 1.0 "" "base one" "echo posted-\$1 >/var/lib/acme-base-post"
test_rpm acme-base 2.0 "" "base two" "echo posted-\$1 >/var/lib/acme-base-post"
test_rpm acme-tools 1.0 "Requires: acme-base >= 1.0" "tools" ""
test_rpm acme-needs 1.0 "Requires: not-there-anywhere" "needs" ""
test_rpm acme-clash 1.0 "" "clash" "" /usr/share/acme/acme-base.txt
test_rpm acme-broken 1.0 "" "broken" "exit 3"
R=$T_DIR/rpmbuild/RPMS/noarch
check "rpmbuild made the test RPMs" test -s "$R/acme-base-1.0-1.noarch.rpm" -a -s "$R/acme-base-2.0-1.noarch.rpm" \
        -a -s "$R/acme-tools-1.0-1.noarch.rpm" -a -s "$R/acme-broken-1.0-1.noarch.rpm"

# --- keys -----------------------------------------------------------------------------
mkdir -m 700 gA gB
GNUPGHOME=$T_DIR/gA gpg --batch --quiet --passphrase '' --quick-gen-key 'Acme packs <packs@acme.invalid>' ed25519 sign never 2>/dev/null
GNUPGHOME=$T_DIR/gB gpg --batch --quiet --passphrase '' --quick-gen-key 'someone else <other@acme.invalid>' ed25519 sign never 2>/dev/null
GNUPGHOME=$T_DIR/gA gpg --batch --export packs@acme.invalid >acme.gpg
check "the test keys exist" test -s acme.gpg

# --- packs ----------------------------------------------------------------------------
build() { GNUPGHOME=$T_DIR/gA "$P" build --originator acme "$@"; }
export SOURCE_DATE_EPOCH=1700000000 TZ=UTC
check "build the base pack, signed" build --name acme-base --version 1.0 --build 1 --description 'Acme base' \
        --requires 'xenhost >= 1.0' --sign packs@acme.invalid "$R/acme-base-1.0-1.noarch.rpm" -o base.iso
check "build the tools pack (requires the base pack)" build --name acme-tools --version 1.0 --build 1 \
        --requires 'xenhost >= 1.0' --requires 'pack:acme-base >= 1.0' --sign packs@acme.invalid \
        "$R/acme-tools-1.0-1.noarch.rpm" -o tools.iso
check "build base 2.0" build --name acme-base --version 2.0 --build 1 --requires 'xenhost >= 1.0' \
        --sign packs@acme.invalid "$R/acme-base-2.0-1.noarch.rpm" -o base2.iso
check "build an unsigned pack" build --name acme-base --version 1.0 --build 1 "$R/acme-base-1.0-1.noarch.rpm" -o unsigned.iso
check "build an unsigned pack with a description" build --name acme-base --version 1.0 --build 1 --description 'Acme base' \
        --requires 'xenhost >= 1.0' "$R/acme-base-1.0-1.noarch.rpm" -o unsigned-d.iso
check "build a pack signed by another key" env GNUPGHOME="$T_DIR/gB" "$P" build --originator acme --name acme-base \
        --version 1.0 --sign other@acme.invalid "$R/acme-base-1.0-1.noarch.rpm" -o otherkey.iso
check "build a pack that needs xenhost >= 2.0" build --name acme-base --version 1.0 --requires 'xenhost >= 2.0' \
        --sign packs@acme.invalid "$R/acme-base-1.0-1.noarch.rpm" -o newer.iso
for n in needs clash broken; do
        check "build the $n pack" build --name "acme-$n" --version 1.0 --sign packs@acme.invalid \
                "$R/acme-$n-1.0-1.noarch.rpm" -o "$n.iso"
done

# The ISO as an independent reader sees it, and reproducibility of what it holds.
check_eq "the ISO holds pack.xml, its signature and the RPM" \
        "'acme-base-1.0-1.noarch.rpm' 'pack.xml' 'pack.xml.asc'" \
        "$(xorriso -indev base.iso -ls / 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//')"
xorriso -osirrox on -indev base.iso -extract / x1 >/dev/null 2>&1
check "pack.xml has the XS-REPOSITORY fields" grep -q '<repository originator="acme" name="acme-base" product="xenhost" version="1.0" build="1">' x1/pack.xml
check_eq "pack.xml has the RPM's SHA-256" "$(sha256sum <"$R/acme-base-1.0-1.noarch.rpm" | cut -d' ' -f1)" \
        "$(sed -n 's/.*sha256="\([0-9a-f]*\)".*/\1/p' x1/pack.xml)"
check "the signature covers pack.xml" gpgv --homedir "$T_DIR/gA" --keyring "$T_DIR/acme.gpg" x1/pack.xml.asc x1/pack.xml
check_eq "files carry SOURCE_DATE_EPOCH" "$(date -u -d @1700000000 +%Y%m%d%H%M)" "$(date -u -r x1/pack.xml +%Y%m%d%H%M)"
# Unsigned (a signature carries the time it was made): the same inputs a
# second later make the same bytes, volume descriptors included.
sleep 1
"$P" build --originator acme --name acme-base --version 1.0 --build 1 --description 'Acme base' \
        --requires 'xenhost >= 1.0' "$R/acme-base-1.0-1.noarch.rpm" -o again.iso >/dev/null
xorriso -osirrox on -indev again.iso -extract / x2 >/dev/null 2>&1
check "the same inputs give the same pack.xml" cmp x1/pack.xml x2/pack.xml
check "the same inputs give the same ISO, byte for byte" cmp unsigned-d.iso again.iso
check_eq "the volume carries SOURCE_DATE_EPOCH too" "Creation Time: 2023111422132000" \
        "$(TZ=UTC xorriso -indev again.iso -pvd_info 2>/dev/null | grep 'Creation Time')"

# --- the root: a Debian-like dom0 with no rpm database ---------------------------------
mkroot() { # DIR: /bin/sh for scriptlets, the product version, the host keyring
        mkdir -p "$1/bin" "$1/var/tmp" "$1/var/lib" "$1/etc/xenhost" "$1/usr/share"
        cp /bin/dash "$1/bin/sh"
        local l
        for l in $(ldd /bin/dash | grep -o '/[^ ]*'); do mkdir -p "$1$(dirname "$l")"; cp "$l" "$1$l"; done
        echo "PRODUCT_VERSION='1.2'" >"$1/etc/xenhost/inventory"
        cp acme.gpg "$1/etc/xenhost/keyring.gpg"
}
mkroot root
# A fingerprint of a root: every path with its size, mode and mtime, and
# every file's bytes. SQLite's shared-memory index (rpmdb.sqlite-shm) is left
# out: any reader of the database writes it, `rpm -qa` too.
snap() { # ROOT [PATH-TO-LEAVE-OUT [FORMAT]]
        (cd "$1" && find . ! -path "${2:-/nothing}" ! -path "${2:-/nothing}/*" ! -name rpmdb.sqlite-shm \
                        -printf "${3:-%p %s %m %T@\n}" | sort &&
                find . -type f ! -path "${2:-/nothing}/*" ! -name rpmdb.sqlite-shm -print0 | sort -z | xargs -0 sha256sum) |
                sha256sum | cut -d' ' -f1
}
rpmqa() { rpm --root "$T_DIR/$1" --dbpath /var/lib/rpm -qa 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//'; }
# bad DESCRIPTION EXPECTED-TEXT ROOT COMMAND...: fails with one line on stderr
# holding the text, and the root is the same before and after.
bad() {
        local desc=$1 want=$2 r=$3 before; shift 3
        before=$(snap "$r")
        if "$@" >out 2>err; then not_ok "$desc (succeeded)"; return; fi
        if [ "$(wc -l <err)" -eq 1 ] && grep -qF -- "$want" err; then ok "$desc: $(cat err)"
        else not_ok "$desc"; sed 's/^/#   /' err; fi
        check_eq "$desc: nothing changed in the root" "$before" "$(snap "$r")"
        check_eq "$desc: no working directory left behind" "" "$(ls tmp)"
}

# --- bad packs on the fresh root --------------------------------------------------------
bad "an unsigned pack where the host has a keyring" \
        "unsigned: unsigned.iso has no pack.xml.asc, and keyring root/etc/xenhost/keyring.gpg requires packs to be signed" \
        root "$P" install unsigned.iso --root root
bad "a pack signed by a key not in the host keyring" "bad signature: pack.xml.asc does not verify with keyring" \
        root "$P" install otherkey.iso --root root
# Tampered copies of the signed base pack, as directories and as an ISO.
mkdir swapped && cp x1/pack.xml x1/pack.xml.asc swapped/ &&
        cp "$R/acme-base-2.0-1.noarch.rpm" swapped/acme-base-1.0-1.noarch.rpm
bad "an RPM swapped under a signed pack.xml (directory)" "checksum mismatch: acme-base-1.0-1.noarch.rpm has SHA-256" \
        root "$P" install swapped --root root
xorriso -as mkisofs -quiet -R -o swapped.iso swapped 2>/dev/null
bad "an RPM swapped under a signed pack.xml (ISO)" "checksum mismatch: acme-base-1.0-1.noarch.rpm has SHA-256" \
        root "$P" install swapped.iso --root root
mkdir missing && cp x1/pack.xml x1/pack.xml.asc missing/
bad "a pack whose RPM is missing" "missing RPM: acme-base-1.0-1.noarch.rpm is listed in pack.xml but not in missing" \
        root "$P" install missing --root root
mkdir malformed && head -c 200 x1/pack.xml >malformed/pack.xml && cp x1/acme-base-1.0-1.noarch.rpm malformed/ &&
        GNUPGHOME=$T_DIR/gA gpg --batch --yes --armor --detach-sign -o malformed/pack.xml.asc malformed/pack.xml 2>/dev/null
bad "a signed but malformed pack.xml" "pack.xml:" root "$P" install malformed --root root
check "... which says it is malformed" grep -q 'malformed' err
mkdir nolist && sed '/<packages>/,/<\/packages>/d' x1/pack.xml >nolist/pack.xml &&
        GNUPGHOME=$T_DIR/gA gpg --batch --yes --armor --detach-sign -o nolist/pack.xml.asc nolist/pack.xml 2>/dev/null
bad "a signed pack.xml without a package list" "pack.xml: no <packages> list" root "$P" install nolist --root root
bad "a pack for a newer product" "unmet requirement: pack acme-base requires xenhost >= 2.0; this host is xenhost 1.2" \
        root "$P" install newer.iso --root root
bad "a pack whose required pack is not installed" \
        "unmet requirement: pack acme-tools requires pack:acme-base >= 1.0, which is not installed" \
        root "$P" install tools.iso --root root
bad "a pack whose RPM needs what nothing provides (no rpm database is left behind)" \
        "unmet rpm dependency: not-there-anywhere is needed by acme-needs-1.0-1.noarch" root "$P" install needs.iso --root root
head -c 100000 /dev/urandom >junk.iso
bad "a file that is not a pack" "junk.iso is not a pack" root "$P" install junk.iso --root root
bad "verify says the same as install (unsigned)" "unsigned: unsigned.iso" root "$P" verify unsigned.iso --root root
check_eq "nothing is installed yet" "" "$(rpmqa root)"

# --- install, the good path ---------------------------------------------------------------
check "verify the base pack" "$P" verify base.iso --root root
"$P" verify base.iso --root root >verify.out 2>&1
check "verify says the signature is good" grep -q 'signature good' verify.out
check "install the base pack" "$P" install base.iso --root root
cp "$T_DIR/.out" install.out
check "install printed progress" grep -q '^\[1/1\] installing acme-base' install.out
check_eq "rpm -qa --root sees it" "acme-base-1.0-1.noarch" "$(rpmqa root)"
check_eq "its file is in the root" "base one" "$(cat root/usr/share/acme/acme-base.txt)"
check_eq "its %post ran in the root (first install)" "posted-1" "$(cat root/var/lib/acme-base-post 2>&1)"
check "the record is there" test -s root/var/lib/xenhost/packs/acme-base.json
"$P" list --root root --json >list.json
check_eq "list --json: name, version, build, originator" "acme-base 1.0 1 acme" \
        "$(jq -r '.[0] | "\(.name) \(.version) \(.build) \(.originator)"' list.json)"
check_eq "list --json: requires" '["xenhost >= 1.0"]' "$(jq -c '.[0].requires' list.json)"
check_eq "list --json: the RPM and its checksum" \
        "acme-base $(sha256sum <"$R/acme-base-1.0-1.noarch.rpm" | cut -d' ' -f1)" \
        "$(jq -r '.[0].packages[0] | "\(.name) \(.sha256)"' list.json)"
check "list --json: installed is a time" jq -e '.[0].installed > 1700000000' list.json
check_eq "the verified pack is kept beside its record" \
        "acme-base-1.0-1.noarch.rpm pack.xml pack.xml.asc" "$(ls root/var/lib/xenhost/packs/acme-base.pack | tr '\n' ' ' | sed 's/ $//')"
# What the upgrader does with it: reinstall the kept pack into another slot
# (verified again there, against that slot's keyring).
mkroot slot2
check "the kept pack installs into another root" "$P" install root/var/lib/xenhost/packs/acme-base.pack --root slot2
check_eq "... where rpm -qa --root sees it" "acme-base-1.0-1.noarch" "$(rpmqa slot2)"
s=$(snap root)
check "installing it again" "$P" install base.iso --root root
cp "$T_DIR/.out" again.out
check "... says it is already installed" grep -q 'Already installed' again.out
check_eq "... and changes nothing" "$s" "$(snap root)"

# --- bad packs on a root with a pack installed ---------------------------------------------
bad "another version of an installed pack" \
        "conflict: pack acme-base 1.0 build 1 is installed; this pack is acme-base 2.0 build 1 (install --upgrade replaces it)" \
        root "$P" install base2.iso --root root
bad "an RPM that would overwrite a file of an installed pack" "the rpm transaction would fail: file /usr/share/acme/acme-base.txt" \
        root "$P" install clash.iso --root root
# A failed scriptlet: librpm has written the package by then; it is taken
# out again, so paths, sizes, modes, contents and records are as before (the
# database's own pages differ, what it lists does not; the directories it
# wrote into have a new mtime).
qa=$(rpmqa root)
bad_rpmdb() {
        local before
        before=$(snap root ./var/lib/rpm '%p %s %m\n')
        if "$P" install broken.iso --root root >out 2>err; then not_ok "a pack whose %post fails (succeeded)"; return; fi
        if [ "$(wc -l <err)" -eq 1 ] && grep -qF "install failed: %post of acme-broken failed, exit status 3; nothing of pack acme-broken was kept" err; then
                ok "a pack whose %post fails: $(cat err)"
        else not_ok "a pack whose %post fails"; sed 's/^/#   /' err; fi
        check_eq "... its files are gone again, no record" "$before" "$(snap root ./var/lib/rpm '%p %s %m\n')"
        check_eq "... and the rpm database lists what it listed" "$qa" "$(rpmqa root)"
}
bad_rpmdb
bad "removing a pack that is not installed" "pack acme-nothing is not installed" root "$P" remove acme-nothing --root root

# --- a dependency between packs, upgrade, remove ------------------------------------------------
check "install the tools pack (its RPM requires the base pack's RPM)" "$P" install tools.iso --root root
check_eq "rpm -qa --root sees both" "acme-base-1.0-1.noarch acme-tools-1.0-1.noarch" "$(rpmqa root)"
bad "removing a pack another pack requires" "pack acme-tools requires pack acme-base: remove it first" \
        root "$P" remove acme-base --root root
check "build base 0.5" build --name acme-base --version 0.5 --sign packs@acme.invalid "$R/acme-base-1.0-1.noarch.rpm" -o base05.iso
bad "--upgrade to a version an installed pack does not accept" \
        "conflict: installed pack acme-tools requires pack:acme-base >= 1.0; this pack is acme-base 0.5" \
        root "$P" install base05.iso --upgrade --root root
check "install --upgrade replaces the base pack with 2.0" "$P" install base2.iso --upgrade --root root
check_eq "rpm -qa --root sees base 2.0" "acme-base-2.0-1.noarch acme-tools-1.0-1.noarch" "$(rpmqa root)"
check_eq "its new file content" "base two" "$(cat root/usr/share/acme/acme-base.txt)"
check_eq "%post ran as an upgrade" "posted-2" "$(cat root/var/lib/acme-base-post)"
check_eq "the kept pack is now 2.0" "acme-base-2.0-1.noarch.rpm pack.xml pack.xml.asc" \
        "$(ls root/var/lib/xenhost/packs/acme-base.pack | tr '\n' ' ' | sed 's/ $//')"
check_eq "list --json has base 2.0 and tools" "acme-base 2.0 acme-tools 1.0" \
        "$("$P" list --root root --json | jq -r '.[] | "\(.name) \(.version)"' | tr '\n' ' ' | sed 's/ $//')"
check "remove the tools pack" "$P" remove acme-tools --root root
check "remove the base pack" "$P" remove acme-base --root root
check_eq "rpm -qa --root is empty" "" "$(rpmqa root)"
check_eq "no pack files are left" "" "$(find root/usr/share/acme -type f 2>/dev/null)"
check_eq "no record and no kept pack are left" "" "$(ls -A root/var/lib/xenhost/packs)"
check_eq "list --json is empty" "[]" "$("$P" list --root root --json | jq -c .)"
check_eq "no working directory left behind" "" "$(ls tmp)"

# --- no keyring: signatures are not required, but a keyring given must be used -----------
mkroot open && rm open/etc/xenhost/keyring.gpg
check "without a host keyring an unsigned pack installs" "$P" install unsigned.iso --root open
check_eq "rpm -qa --root sees it" "acme-base-1.0-1.noarch" "$(rpmqa open)"
bad "--keyring makes the signature required again" "unsigned: unsigned.iso has no pack.xml.asc" \
        open "$P" verify unsigned.iso --root open --keyring acme.gpg
t_finish
