#!/bin/bash
# Inputs an attacker or a careless operator hands xenhost-install, on every
# way an answer file comes in: each ends quickly, with exit 1, one clear line
# and bounded output. Endless files and FIFOs (relative and absolute paths,
# file://, @FILE, the media), generators that print or sleep for ever, 20,000
# problems, a 1 MB value, a non-UTF-8 password, credentials and tokens in
# locations. Needs no root, no disk and no network.
. "$(dirname "$0")/../lib.sh"

D=$XH_TOP/tests/data/answerfiles
I=xenhost-install
unset XENHOST_FETCH_TIMEOUT XENHOST_FETCH_TLS_VERIFY XENHOST_GENERATOR_TIMEOUT

mkdir -p "$T_DIR/zoneinfo/Europe" "$T_DIR/zoneinfo/Etc" "$T_DIR/keymaps/i386/qwerty"
printf 'TZif2' >"$T_DIR/zoneinfo/Europe/London"
printf 'TZif2' >"$T_DIR/zoneinfo/Etc/UTC"
: >"$T_DIR/keymaps/i386/qwerty/us.kmap.gz"
export XENHOST_ZONEINFO=$T_DIR/zoneinfo XENHOST_KEYMAPS=$T_DIR/keymaps

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# run NAME SECONDS ARGS...: runs xenhost-install under `timeout`, sets $rc,
# $err (stderr), $out (stdout), $took (ms) and $bytes (all it printed).
run() {
        local name=$1 limit=$2 start
        shift 2
        start=$(now_ms)
        timeout "$limit" $I "$@" >"$T_DIR/$name.out" 2>"$T_DIR/$name.err"
        rc=$? took=$(($(now_ms) - start))
        out=$(cat "$T_DIR/$name.out") err=$(cat "$T_DIR/$name.err")
        bytes=$(cat "$T_DIR/$name.out" "$T_DIR/$name.err" | wc -c)
}

# expect_line NAME LINE: exit 1 (not killed by timeout), the one line on
# stderr, nothing on stdout, within 5 s.
expect_line() {
        check_eq "$1: exit code 1" 1 "$rc"
        check_eq "$1: one line" "$2" "$err"
        check_eq "$1: nothing on stdout" "" "$out"
        check "$1: ends at once (${took} ms)" test "$took" -lt 5000
}

NOTREG="not a regular file (a FIFO, a device or a socket)"

# ---- endless files and FIFOs, every way in ----
mkdir -p "$T_DIR/a/b"
cd "$T_DIR/a/b" || exit 1
# The relative path that read 12 GB in 20 s.
rel=$(realpath --relative-to=. /dev/zero)
run zero-rel 10 --check-answerfile "$rel"
expect_line "relative path to /dev/zero" "xenhost-install: Cannot read answer file $rel: $NOTREG"
run zero-abs 10 --check-answerfile /dev/zero
expect_line "absolute path /dev/zero" "xenhost-install: cannot fetch /dev/zero: $NOTREG"
run zero-file 10 --check-answerfile file:///dev/zero
expect_line "file:///dev/zero" "xenhost-install: cannot fetch file:///dev/zero: $NOTREG"
run urandom 10 --check-answerfile ../../../../../../dev/urandom
expect_line "relative path to /dev/urandom" \
        "xenhost-install: Cannot read answer file ../../../../../../dev/urandom: $NOTREG"

# A FIFO nobody writes to hung for ever.
mkfifo fifo.xml "$T_DIR/fifo.xml"
run fifo-rel 10 --check-answerfile fifo.xml
expect_line "FIFO, relative path" "xenhost-install: Cannot read answer file fifo.xml: $NOTREG"
run fifo-abs 10 --check-answerfile "$T_DIR/fifo.xml"
expect_line "FIFO, absolute path" "xenhost-install: cannot fetch $T_DIR/fifo.xml: $NOTREG"
run fifo-url 10 --check-answerfile "file://$T_DIR/fifo.xml"
expect_line "FIFO, file://" "xenhost-install: cannot fetch file://$T_DIR/fifo.xml: $NOTREG"
run fifo-dry 10 --dry-run --answerfile "$T_DIR/fifo.xml"
expect_line "FIFO, --dry-run --answerfile" "xenhost-install: cannot fetch $T_DIR/fifo.xml: $NOTREG"
mkdir -p "$T_DIR/media"
mkfifo "$T_DIR/media/answer.xml"
run fifo-media 10 --media "$T_DIR/media" --check-answerfile /answer.xml
expect_line "FIFO on the media" "xenhost-install: cannot fetch /answer.xml: $NOTREG"
# Even with a writer that never stops, nothing is read.
(exec yes '<installation>' >"$T_DIR/fifo.xml") 2>/dev/null &
writer=$!
run fifo-writer 10 --check-answerfile "$T_DIR/fifo.xml"
expect_line "FIFO with an endless writer" "xenhost-install: cannot fetch $T_DIR/fifo.xml: $NOTREG"
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null

# @FILE: the file naming the location, and the location it names.
run at-zero 10 --check-answerfile @/dev/zero
expect_line "@/dev/zero" "xenhost-install: Cannot read the answer file's location from /dev/zero: $NOTREG"
run at-fifo 10 --check-answerfile @fifo.xml
expect_line "@FIFO" "xenhost-install: Cannot read the answer file's location from fifo.xml: $NOTREG"
head -c 1048577 /dev/zero | tr '\0' x >big-location
run at-big 10 --check-answerfile @big-location
expect_line "@FILE over 1 MiB" \
        "xenhost-install: Cannot read the answer file's location from big-location: larger than 1024 KiB"
echo /dev/zero >location
run at-names-zero 10 --check-answerfile @location
expect_line "@FILE naming /dev/zero" "xenhost-install: cannot fetch /dev/zero: $NOTREG"

# One size limit: 1 MiB is read, one byte more is not, whatever the way in.
{ cat "$D/fresh.xml"; head -c $((1048576 - $(wc -c <"$D/fresh.xml"))) /dev/zero | tr '\0' ' '; } >max.xml
{ cat max.xml; echo; } >over.xml
check_eq "exactly 1 MiB is read (relative path)" 1048576 "$(wc -c <max.xml)"
check "exactly 1 MiB: valid (relative path)" $I --check-answerfile max.xml
check "exactly 1 MiB: valid (absolute path)" $I --check-answerfile "$PWD/max.xml"
run over-rel 10 --check-answerfile over.xml
expect_line "1 MiB + 1, relative path" "xenhost-install: Cannot read answer file over.xml: larger than 1024 KiB"
run over-abs 10 --check-answerfile "$PWD/over.xml"
expect_line "1 MiB + 1, absolute path" "xenhost-install: cannot fetch $PWD/over.xml: larger than 1024 KiB"
run over-url 10 --check-answerfile "file://$PWD/over.xml"
expect_line "1 MiB + 1, file://" "xenhost-install: cannot fetch file://$PWD/over.xml: larger than 1024 KiB"
cd "$T_DIR" || exit 1

# ---- answer file generators ----
G=$T_DIR/gen
mkdir -p "$G"
printf '#!/bin/sh\nwhile :; do echo "<installation mode=\\"fresh\\">"; done\n' >"$G/prints-forever.sh"
printf '#!/bin/sh\nsleep 1000 &\necho $! >"%s"\nsleep 1000\n' "$T_DIR/sleeper.pid" >"$G/sleeps-forever.sh"
printf '#!/bin/sh\ncat "%s"\n' "$D/fresh.xml" >"$G/good.sh"
chmod 755 "$G"/*.sh

run gen-prints 30 --answerfile-generator "$G/prints-forever.sh" --dry-run
expect_line "generator printing for ever" \
        "xenhost-install: answer file generator $G/prints-forever.sh printed more than 1024 KiB: stopped"

export XENHOST_GENERATOR_TIMEOUT=2
run gen-sleeps 30 --answerfile-generator "$G/sleeps-forever.sh" --dry-run
check_eq "generator sleeping for ever: exit code 1" 1 "$rc"
check_eq "generator sleeping for ever: one line" \
        "xenhost-install: answer file generator $G/sleeps-forever.sh did not finish within 2 s: stopped" "$err"
check "generator sleeping for ever: stopped at the time limit (${took} ms)" test "$took" -ge 2000 -a "$took" -lt 5000
pid=$(cat "$T_DIR/sleeper.pid" 2>/dev/null)
gone=no
for _ in $(seq 50); do
        state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)
        if [ -z "$state" ] || [ "$state" = Z ]; then gone=yes; break; fi
        sleep 0.1
done
check_eq "generator sleeping for ever: its background child was stopped too" yes "$gone"
check "a generator within its limits still works" $I --answerfile-generator "$G/good.sh" --dry-run \
        --facts "$XH_TOP/tests/data/facts/vm.json"
export XENHOST_GENERATOR_TIMEOUT=0
run gen-zero 10 --answerfile-generator "$G/good.sh" --dry-run
expect_line "XENHOST_GENERATOR_TIMEOUT=0 (no limit) is refused" \
        "xenhost-install: Invalid XENHOST_FETCH_TIMEOUT, XENHOST_FETCH_TLS_VERIFY or XENHOST_GENERATOR_TIMEOUT"
unset XENHOST_GENERATOR_TIMEOUT

# ---- problem reports ----
# 20,000 references to an undefined entity: 20 lines and a count.
python3 - "$T_DIR/entities.xml" <<'PY'
import sys
open(sys.argv[1], "w").write('<?xml version="1.0"?>\n<installation mode="fresh">\n<hostname>'
                             + "&undef;" * 20000 + '</hostname>\n</installation>\n')
PY
run entities 10 --check-answerfile "$T_DIR/entities.xml"
check_eq "20,000 undefined entities: exit code 1" 1 "$rc"
check_eq "20,000 undefined entities: 21 lines" 21 "$(printf '%s\n' "$err" | wc -l)"
check_eq "20,000 undefined entities: the last line counts the rest" 1 \
        "$(printf '%s\n' "$err" | tail -1 | grep -c "^$T_DIR/entities.xml: and [0-9]* more problems$")"
check "20,000 undefined entities: under 4 KB of output ($bytes bytes)" test "$bytes" -lt 4096
check "20,000 undefined entities: quick (${took} ms)" test "$took" -lt 5000

# A 1 MB attribute value: 64 characters of it.
python3 - "$T_DIR/attribute.xml" <<'PY'
import sys
open(sys.argv[1], "w").write('<?xml version="1.0"?>\n<installation mode="' + "A" * 1000000 + '">\n</installation>\n')
PY
run attribute 10 --check-answerfile "$T_DIR/attribute.xml"
A64=$(printf 'A%.0s' $(seq 64))
check_eq "1 MB attribute: exit code 1" 1 "$rc"
check_eq "1 MB attribute: one line, the value cut at 64 characters" \
        "$T_DIR/attribute.xml:2: unknown mode \"$A64...\" (fresh, reinstall, upgrade or restore)" "$err"
check "1 MB attribute: under 1 KB of output ($bytes bytes)" test "$bytes" -lt 1024

# A non-UTF-8 byte in the root password: the line, not the bytes.
sed 's|<root-password type="hash">[^<]*</root-password>|<root-password type="plaintext">pa\xf6yZss</root-password>|' \
        "$D/fresh.xml" >"$T_DIR/latin1.xml"
run latin1 10 --check-answerfile "$T_DIR/latin1.xml"
check_eq "non-UTF-8 password: exit code 1" 1 "$rc"
check_eq "non-UTF-8 password: one line, no bytes" "$T_DIR/latin1.xml:7: invalid UTF-8 at line 7" "$err"
check_eq "non-UTF-8 password: nothing of it in the log either" 0 \
        "$($I --log-file "$T_DIR/latin1.log" --check-answerfile "$T_DIR/latin1.xml" >/dev/null 2>&1; grep -c -e "0x[Ff]6" -e yZss -e Bytes "$T_DIR/latin1.log")"

# An escape sequence in a value does not reach the terminal.
sed 's|<hostname>host1</hostname>|<hostname>a\&#x9;\&#x1b;[2Jb</hostname>|' "$D/fresh.xml" >"$T_DIR/escape.xml"
run escape 10 --check-answerfile "$T_DIR/escape.xml"
check_eq "escape sequence in a value: no control character printed" 0 \
        "$(cat "$T_DIR/escape.err" | tr -d '\n' | LC_ALL=C grep -c '[[:cntrl:]]')"

# ---- credentials and tokens in locations ----
sed 's|http://installer:s3cret@mirror.example.com/xenhost/post.sh|nfs://user:Pa55word@server/path|' \
        "$D/fresh.xml" >"$T_DIR/nfs-script.xml"
run nfs-script 10 --check-answerfile "$T_DIR/nfs-script.xml"
check_eq "nfs:// credentials in <script>: one line, redacted" \
        "$T_DIR/nfs-script.xml:18: <script>: '***@server/path' is not an NFS location (server:/path)" "$err"
sed 's|<source type="local"/>|<source type="nfs">nfs://user:Pa55word@server/path</source>|' \
        "$D/fresh.xml" >"$T_DIR/nfs-source.xml"
run nfs-source 10 --check-answerfile "$T_DIR/nfs-source.xml"
check_eq "nfs:// credentials in <source>: never printed" 0 "$(grep -c -e Pa55word -e user: "$T_DIR/nfs-source.err")"
check_eq "nfs:// credentials in <source>: the line" 1 "$(grep -c "'\*\*\*@server/path'" "$T_DIR/nfs-source.err")"
run nfs-location 10 --check-answerfile "nfs://user:Pa55word@/a.xml"
check_eq "an nfs:// answer file location with credentials: redacted" \
        "xenhost-install: cannot fetch nfs://***@/a.xml: not nfs://SERVER/PATH/FILE" "$err"
sed 's|http://installer:s3cret@mirror.example.com/xenhost/post.sh|http://mirror.example.com/post.sh?token=T0kenValue\&amp;sig=S1gValue|' \
        "$D/fresh.xml" >"$T_DIR/token.xml"
F=$XH_TOP/tests/data/facts/vm.json
$I --log-file "$T_DIR/token.log" --check-answerfile "$T_DIR/token.xml" >"$T_DIR/token-check.out" 2>&1
check_eq "a token in a script URL: the file is valid" 0 "$?"
$I -v --log-file "$T_DIR/token.log" --dry-run --facts "$F" --answerfile "$T_DIR/token.xml" >"$T_DIR/token-plan.out" 2>&1
check_eq "a token in a script URL: --dry-run plans" 0 "$?"
$I --dry-run --json --facts "$F" --answerfile "$T_DIR/token.xml" >"$T_DIR/token-json.out" 2>&1
check_eq "a token in a script URL: --dry-run --json plans" 0 "$?"
for o in check plan json; do
        check_eq "a token in a script URL: not in the $o output" 0 \
                "$(grep -c -e T0kenValue -e S1gValue "$T_DIR/token-$o.out")"
done
check_eq "a token in a script URL: not in the log" 0 "$(grep -c -e T0kenValue -e S1gValue "$T_DIR/token.log")"
run token-location 10 --check-answerfile "file://$T_DIR/none.xml?token=T0kenValue"
check_eq "a token in the answer file's own location: redacted" \
        "xenhost-install: cannot fetch file://$T_DIR/none.xml?token=***: no such file" "$err"

t_finish
