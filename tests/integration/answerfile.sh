#!/bin/bash
# xenhost-install --check-answerfile and --dry-run on the answer files in
# tests/data/answerfiles: exit codes, one stderr line per problem, FILE:LINE
# on each, and no secret in anything printed. Needs no root and no disk.
. "$(dirname "$0")/../lib.sh"

D=$XH_TOP/tests/data/answerfiles
I=xenhost-install

# The time zone and keymap databases validation reads, as the installer
# environment has them (tzdata, console-data), whatever this machine has.
mkdir -p "$T_DIR/zoneinfo/Europe" "$T_DIR/zoneinfo/Etc" "$T_DIR/keymaps/i386/qwerty"
printf 'TZif2' >"$T_DIR/zoneinfo/Europe/London"
printf 'TZif2' >"$T_DIR/zoneinfo/Etc/UTC"
: >"$T_DIR/keymaps/i386/qwerty/us.kmap.gz"
: >"$T_DIR/keymaps/i386/qwerty/uk.kmap.gz"
export XENHOST_ZONEINFO=$T_DIR/zoneinfo XENHOST_KEYMAPS=$T_DIR/keymaps

for f in fresh upgrade restore deprecated ineffective; do
        check "$f.xml is valid" $I --check-answerfile "$D/$f.xml"
done
check_eq "fresh.xml: summary" \
        "$D/fresh.xml: valid: fresh install onto sda (SR lvm), management on eth0 (static), source local" \
        "$($I --check-answerfile "$D/fresh.xml" 2>/dev/null)"
check_eq "fresh.xml: nothing on stderr" "" "$($I --check-answerfile "$D/fresh.xml" 2>&1 >/dev/null)"
check_eq "ineffective.xml: one warning line per ineffective element" 2 \
        "$($I --check-answerfile "$D/ineffective.xml" 2>&1 >/dev/null | grep -c "^$D/ineffective.xml:[0-9]*: warning: ")"

# check_problems NAME COUNT: exit 1, COUNT lines on stderr, each FILE:LINE: ...
check_problems() {
        local f=$D/$1 err rc
        err=$($I --check-answerfile "$f" 2>&1 >/dev/null)
        rc=$?
        check_eq "$1: exit code 1" 1 "$rc"
        check_eq "$1: $2 problem lines on stderr" "$2" "$(printf '%s\n' "$err" | grep -c .)"
        check_eq "$1: every line is FILE:LINE: ..." "$2" "$(printf '%s\n' "$err" | grep -c "^$f:[0-9][0-9]*: ")"
}
check_problems bad-many.xml 5
check_problems bad-missing.xml 3
check_problems bad-syntax.xml 2
check_problems bad-values.xml 7
check_eq "bad-values.xml: six errors, one warning, each at its element's line" \
        "7 9 11:warning 13 14 15 16" \
        "$($I --check-answerfile "$D/bad-values.xml" 2>&1 >/dev/null | sed -n "s|^$D/bad-values.xml:\([0-9]*\): \(warning\)\{0,1\}.*|\1\2|p" | sed 's/warning$/:warning/' | sort -n | tr '\n' ' ' | sed 's/ $//')"
check_eq "bad-values.xml: an ftp source is refused clearly" \
        "$D/bad-values.xml:7: <source>: installing from 'ftp://mirror.example.com/xenhost/' is not supported: serve the install tree over http:// or https://, or give a file:// path" \
        "$($I --check-answerfile "$D/bad-values.xml" 2>&1 | grep '<source>')"
check_eq "bad-values.xml: the bad hash is never printed" 0 \
        "$($I --check-answerfile "$D/bad-values.xml" 2>&1 | grep -c notahash)"
# Without the databases (not the installer environment) names are not
# checked, and the operator is told so.
check_eq "no keymap database: a warning, still valid" "0 1" \
        "$(XENHOST_KEYMAPS=$T_DIR/none $I --check-answerfile "$D/fresh.xml" 2>"$T_DIR/err" >/dev/null; echo "$? $(grep -c "warning: <keymap>: keymap 'us' not checked" "$T_DIR/err")")"
check_eq "bad-many.xml: the unknown element is named with its line" \
        "$D/bad-many.xml:13: unknown element <colour>" \
        "$($I --check-answerfile "$D/bad-many.xml" 2>&1 | grep colour)"

check_fails "a missing answer file fails" $I --check-answerfile "$T_DIR/nonexistent.xml"
check_eq "a missing answer file: one line" 1 "$($I --check-answerfile "$T_DIR/nonexistent.xml" 2>&1 | wc -l)"
check_fails "no arguments: nothing to do" $I
check "--help" $I --help

# --dry-run plans the install on this machine (and may find it cannot be
# done here); whatever it prints, no secret is in it.
out=$($I --dry-run --answerfile "$D/fresh.xml" 2>&1)
check_eq "--dry-run never shows the password or URL credentials" 0 \
        "$(printf '%s\n' "$out" | grep -c -e s3cret -e installer: -e saltsalt -e As4wrv -e Vb6b4h)"
out=$($I --dry-run --answerfile "file://$D/deprecated.xml" 2>&1)
check_eq "--dry-run with file:// and a plaintext password" 0 "$(printf '%s\n' "$out" | grep -c changeme)"

# Same file, same answer: the log file gets the problems too.
$I --log-file "$T_DIR/log" --check-answerfile "$D/bad-many.xml" >/dev/null 2>&1
check_eq "the log file has every problem" 5 "$(grep -c "bad-many.xml:[0-9]*: " "$T_DIR/log")"

t_finish
