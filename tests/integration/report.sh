#!/bin/bash
# Install reports for fleets (DESIGN.md section 9, docs/report.md): with
# <report url="..."/> in the answer file (or --report URL) the installer
# POSTs one JSON event per line of progress to the fleet's endpoint, here a
# python3 server on 127.0.0.1 in a network namespace of the test's own
# (loopback only) that keeps every body it is given. A real install runs
# onto a loop device (up to the boot loader, which needs a vfat mount this
# machine lacks): the endpoint gets the start (the host's MACs, DMI
# identity, the installer's version), every step with a rising percentage,
# and the end (success with the version, or the boot loader's failure); an
# injected failure gives a failure event with the step, the reason and the
# log's last lines; an endpoint that refuses connections or answers 500
# does not stop the install and costs it a few seconds; credentials in the
# URL reach the endpoint and nothing else.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../media-lib.sh"

I="$XH_BIN/xenhost-install"
for t in "$I" python3 ip nsenter jq partx; do
        command -v "$t" >/dev/null || { not_ok "$t is needed"; t_finish; exit 1; }
done
if [ -f "$XB_IMG" ] && [ -f "$XB_MAN" ]; then ok "the media are there"; else check "the media are built" media_ensure_iso; fi
cd "$T_DIR" || exit 1
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

NS=xh-report-$$
SERVER= MUTE=
cleanup() {
        [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
        [ -n "$MUTE" ] && kill "$MUTE" 2>/dev/null
        ip netns del "$NS" 2>/dev/null
        t_cleanup
}
trap cleanup EXIT
# nsenter --net keeps this machine's /sys, where the installer finds the
# machine's NICs and DMI identity (`ip netns exec` would mount another).
ip netns add "$NS" && ip netns exec "$NS" ip link set lo up
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
NIC=
for n in /sys/class/net/*; do
        [ -e "$n/device" ] && [ "$(cat "$n/type")" = 1 ] && { NIC=$(basename "$n"); break; }
done
[ -n "$NIC" ] || { not_ok "this machine has a NIC for the answer file"; t_finish; exit 1; }
# What the events must say about this machine: the NICs with a device, by
# name; the DMI serial and product, or null where there are none.
MACS=$(python3 - <<'PY'
import json, os
n = "/sys/class/net"
macs = [open(f"{n}/{d}/address").read().strip() for d in sorted(os.listdir(n))
        if os.path.exists(f"{n}/{d}/device") and os.path.exists(f"{n}/{d}/address")]
print(json.dumps([m for m in macs if m]))
PY
)
dmi() { local v; v=$(head -1 "/sys/class/dmi/id/$1" 2>/dev/null | sed 's/[ \t]*$//'); [ -n "$v" ] && jq -n --arg v "$v" '$v' || echo null; }
SERIAL=$(dmi product_serial) PRODUCT=$(dmi product_name)

# --- the endpoint: /report keeps each body as a line, /other too, /broken answers 500 ---
cat >server.py <<'PY'
import http.server, os, sys
out, port = sys.argv[1], int(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(os.path.join(out, "requests.log"), "a") as f:
            f.write("%s %s %s\n" % (self.path, self.headers.get("Content-Type", "-"),
                                    self.headers.get("Authorization", "-")))
        name = {"/report": "report.jsonl", "/other": "other.jsonl"}.get(self.path)
        if name:
            with open(os.path.join(out, name), "ab") as f:
                f.write(body + b"\n")
            self.send_response(204)
        else:
            self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
# nsenter itself, not in_ns: $! is then the server's own PID (nsenter
# execs it), which the cleanup kills; a function would run in a subshell.
nsenter --net="/run/netns/$NS" python3 server.py "$T_DIR" 8080 2>server.err &
SERVER=$!
for _ in $(seq 50); do
        in_ns python3 -c 'import socket; socket.create_connection(("127.0.0.1", 8080), 1)' 2>/dev/null && break
        sleep 0.2
done
check "the endpoint answers inside the namespace" in_ns python3 -c \
        'import socket; socket.create_connection(("127.0.0.1", 8080), 1)'
U=http://127.0.0.1:8080

# --- the media and the disk -------------------------------------------------------------
mkdir -p media/xenhost
ln -f "$XB_IMG" media/xenhost/ 2>/dev/null || cp "$XB_IMG" media/xenhost/
cp "$XB_MAN" media/xenhost/
echo "VERSION='$XB_VERSION'" >release
export XENHOST_RELEASE_FILE=$T_DIR/release
truncate -s 50G disk.img
# A loop device with no partitions left over from an earlier user (a
# partition still open when its device was detached stays in the kernel and
# makes the partitioner's BLKPG calls fail with EBUSY).
LOOP=
for d in /sys/block/loop*; do
        n=$(basename "$d")
        [ -e "$d/loop/backing_file" ] && continue
        compgen -G "$d/${n}p*" >/dev/null && continue
        if losetup "/dev/$n" disk.img 2>/dev/null; then
                LOOP=/dev/$n T_LOOPS+=("/dev/$n")
                echo "$LOOP" >>"$T_DIR/.loops"
                break
        fi
done
[ -n "$LOOP" ] || { not_ok "a loop device without stale partitions"; t_finish; exit 1; }

answer() { # [REPORT-URL] [FILE]: the answer file, with <report> when a URL is given
        local rep=
        [ -n "${1:-}" ] && rep="<report url=\"$1\"/>"
        cat >"${2:-answer.xml}" <<XML
<?xml version="1.0"?>
<installation mode="fresh" srtype="lvm">
  <primary-disk>$LOOP</primary-disk>
  <root-password type="plaintext">report-pw-1</root-password>
  <source type="local"/>
  <admin-interface name="$NIC" proto="dhcp"/>
  <hostname>rack7-host3</hostname>
  $rep
</installation>
XML
}
install() { # ARGS...: output in out, the log in install.log, the seconds in $took
        : >install.log
        local t0=$SECONDS
        XENHOST_FETCH_TIMEOUT=0 in_ns "$I" --answerfile answer.xml --media "$T_DIR/media" \
                --log-file "$T_DIR/install.log" --work-dir "$T_DIR/work" "$@" >out 2>&1
        local rc=$?
        took=$((SECONDS - t0))
        return $rc
}
# The install gets through: it succeeds, or stops at the boot loader's ESP
# mount that this machine cannot do (no vfat).
got_through() {
        [ "$1" -eq 0 ] || grep -q 'Installation failed: step bootloader: mounting the ESP' out
}
events() { jq -r "${2:-.event}" "${1:-report.jsonl}" | paste -sd' '; }
STEPS="checks verify-image partition write-slot configure packs bootloader finish"

# --- the plan says where the events go, without the credentials -------------------------
answer "http://fleet:s3cret@127.0.0.1:8080/report"
in_ns "$I" --dry-run --json --answerfile answer.xml --media "$T_DIR/media" >plan.json 2>plan.err
check_eq "the plan: the report is applied, credentials redacted" \
        "applied the install's events are POSTed as JSON to http://***@127.0.0.1:8080/report; a report that cannot be delivered never stops the install" \
        "$(jq -r '.settings[] | select(.field == "report_url") | "\(.fate) \(.detail)"' plan.json)"
check_eq "a dry run sends nothing" "" "$(cat report.jsonl requests.log 2>/dev/null)"

# --- a good install ---------------------------------------------------------------------
: >report.jsonl
install
rc=$?
base=$took
if got_through $rc; then ok "the install with a report gets through ($base s)"; else
        not_ok "the install with a report gets through"; sed 's/^/#   /' out | tail -8
fi
sed 's/^/#   /' report.jsonl | cut -c1-300
check "every body is one JSON object" jq -se 'length > 0 and all(.[]; type == "object")' report.jsonl
check_eq "one POST an event, as application/json, with the URL's credentials as basic auth" \
        "$(wc -l <report.jsonl)" \
        "$(grep -c "^/report application/json Basic $(printf 'fleet:s3cret' | base64)\$" requests.log)"
check "schema 1, one install_id, seq 1, 2, ... without gaps, times in order" jq -se '
        all(.[]; .schema == 1) and ([.[].install_id] | unique | length == 1) and
        (.[0].install_id | test("^[0-9a-f-]{36}$")) and ([.[].seq] == [range(1; length + 1)]) and
        all(.[]; .time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")) and
        ([.[].time] == ([.[].time] | sort))' report.jsonl
check_eq "the first event is the start, with the mode and the host name" "start fresh rack7-host3" \
        "$(jq -sr '.[0] | "\(.event) \(.mode) \(.hostname)"' report.jsonl)"
check_eq "every event names the host: its MACs (the first NIC's first), serial and product" \
        "$(jq -cn --argjson m "$MACS" --argjson s "$SERIAL" --argjson p "$PRODUCT" '{mac: $m[0], macs: $m, serial: $s, product: $p}')" \
        "$(jq -sc '[.[].host] | unique | if length == 1 then .[0] else . end' report.jsonl)"
check "... and the answer file's NIC is among the MACs" \
        jq -se "all(.[]; .host.macs | index(\"$(cat "/sys/class/net/$NIC/address")\") != null)" report.jsonl
check_eq "every event carries the installer's version" "$XB_VERSION" \
        "$(jq -sr '[.[].installer.version] | unique | join(",")' report.jsonl)"
names=$(events report.jsonl 'select(.event == "step") | .step')
if [ "$rc" -eq 0 ]; then
        check_eq "a step event for each of the 8 steps, in order" "$STEPS" "$names"
else
        check_eq "a step event for each step up to the boot loader, in order" "${STEPS% finish}" "$names"
        skip "a step event for each of the 8 steps" "this machine cannot mount vfat: the install stops at the boot loader"
fi
check "each step event says which of how many, with a title" jq -se '
        [.[] | select(.event == "step")] | all(.[]; .steps == 8 and (.title | length > 0)) and
        ([.[].index] == [range(1; length + 1)])' report.jsonl
check "the percentages rise, from 0, below 100" jq -se '
        [.[] | select(.event == "step") | .percent] as $p | $p[0] == 0 and $p[-1] < 100 and
        ($p == ($p | sort)) and ($p[-1] > $p[1]) and ($p | unique | length) >= ($p | length) - 1' report.jsonl
jq -sr '[.[] | select(.event == "step") | "\(.step) \(.percent)%"] | "#   " + join(", ")' report.jsonl
if [ "$rc" -eq 0 ]; then
        check_eq "the last event: success with the installed version" "success $XB_VERSION 100" \
                "$(jq -sr '.[-1] | "\(.event) \(.version) \(.percent)"' report.jsonl)"
else
        check_eq "the last event: the boot loader's failure (this machine has no vfat)" "failure bootloader" \
                "$(jq -sr '.[-1] | "\(.event) \(.step)"' report.jsonl)"
        skip "the last event: success with the installed version" "this machine cannot mount vfat"
fi
check_eq "the events are start, steps, warnings, then the end" "1" \
        "$(events report.jsonl '.event' | grep -cE '^start (step |warning )*(success|failure)$')"
check_fails "the credentials are in neither the output nor the log" grep -q s3cret out install.log
check_fails "nothing is said about the report when every event was delivered" grep -q 'could not be delivered' out

# --- a failure: its step, the reason and the log's last lines ----------------------------
: >report.jsonl
XENHOST_TEST_FAIL_STEP=partition install
check_eq "the install with an injected failure fails" 1 $?
check_eq "events: start, the steps up to partition, the failure there" \
        "start step:checks step:verify-image step:partition failure:partition" \
        "$(events report.jsonl 'select(.event != "warning") | if .step then "\(.event):\(.step)" else .event end')"
check_eq "the failure's reason, without the step's name" "failure injected by XENHOST_TEST_FAIL_STEP" \
        "$(jq -sr '.[-1].reason' report.jsonl)"
check "the failure's percentage is the failed step's" jq -se \
        '.[-1].percent == ([.[] | select(.event == "step")][-1].percent)' report.jsonl
check "the failure carries the log's last lines, ending with the failure" jq -se '
        .[-1].log_tail | length > 1 and length <= 20 and (.[-1] | test("Installation failed: step partition"))' report.jsonl
check "... which are the install log's own lines" bash -c \
        "jq -r '.log_tail[]' <(tail -1 report.jsonl) | while IFS= read -r l; do grep -qxF -- \"\$l\" install.log || exit 1; done"

# --- --report, and the answer file's <report> winning over it --------------------------------
answer ""
: >report.jsonl
: >other.jsonl
XENHOST_TEST_FAIL_STEP=checks install --report "$U/other"
NOWARN='select(.event != "warning") | .event'
check_eq "--report URL: the events go there" "start step failure" "$(events other.jsonl "$NOWARN")"
answer "$U/report"
: >other.jsonl
XENHOST_TEST_FAIL_STEP=checks install --report "$U/other"
check_eq "<report> in the answer file wins over --report" "start step failure|0" \
        "$(events report.jsonl "$NOWARN")|$(wc -l <other.jsonl)"
check_fails "--report with --dry-run is refused" "$I" --dry-run --answerfile answer.xml --report "$U/report"
check_fails "--report ftp://... is refused" "$I" --answerfile answer.xml --report "ftp://127.0.0.1/report"
# An answer file that cannot be used: the fleet hears of it too.
printf '<installation mode="fresh">\n  <hostname>x</hostname>\n</installation>\n' >answer.xml
: >other.jsonl
install --report "$U/other"
check_eq "a bad answer file with --report: start, then the failure at the answer file" "start failure:answerfile" \
        "$(events other.jsonl 'if .step then "\(.event):\(.step)" else .event end')"
check "... with the answer file's problem as the reason" jq -se '.[-1].reason | test("primary-disk")' other.jsonl

# --- an endpoint that is down or broken never stops an install -------------------------------
for rep in http://fleet:s3cret@127.0.0.1:9/report "$U/broken"; do
        answer "$rep"
        : >install.log
        install
        rc=$?
        if got_through $rc; then
                ok "report to $rep: the install goes on as without a report ($took s, $base s with the endpoint up)"
        else
                not_ok "report to $rep: the install goes on as without a report"; sed 's/^/#   /' out | tail -5
        fi
        check "... and costs it at most 10 s more" test $((took - base)) -le 10
        check "... one warning counting the events not delivered" grep -qE '^warning: [0-9]+ event\(s\) could not be delivered to http://(\*\*\*@)?127\.0\.0\.1:[0-9]+/[a-z]+ \(of [0-9]+; last: (connection refused|HTTP 500)\)$' out
        check "... and the log says it too" grep -q 'report: [0-9]* event(s) could not be delivered' install.log
        check_fails "... without the credentials" grep -q s3cret out install.log
done

# An endpoint that takes the connection and never answers: each attempt
# waits its whole timeout, until the time lost reaches the budget; from
# then on only the end event is tried.
nsenter --net="/run/netns/$NS" python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8082)); s.listen(64)
time.sleep(3600)' &
MUTE=$!
sleep 0.5
answer "http://127.0.0.1:8082/report"
install
rc=$?
kill "$MUTE" 2>/dev/null
if got_through $rc; then
        ok "report to an endpoint that never answers: the install goes on ($took s, $base s with the endpoint up)"
else
        not_ok "report to an endpoint that never answers: the install goes on"; sed 's/^/#   /' out | tail -5
fi
check "... and costs it at most 30 s more, not minutes" test $((took - base)) -le 30
check "... every event counted as not delivered, the last one timed out" \
        grep -qE '^warning: ([0-9]+) event\(s\) could not be delivered to http://127\.0\.0\.1:8082/report \(of \1; last: timed out\)$' out

# --- the answer file's round trip keeps <report> ----------------------------------------------
answer "http://fleet:s3cret@127.0.0.1:8080/report?rack=7&amp;row=2"
check "<report> is a valid element" "$I" --check-answerfile answer.xml
check_eq "the plan redacts its credentials and the query's values" \
        "the install's events are POSTed as JSON to http://***@127.0.0.1:8080/report?rack=***&row=***; a report that cannot be delivered never stops the install" \
        "$("$I" --dry-run --json --answerfile answer.xml --media "$T_DIR/media" 2>/dev/null | jq -r '.settings[] | select(.field == "report_url") | .detail')"
printf '<installation mode="fresh">\n  <report/>\n</installation>\n' >bad.xml
check_eq "<report> without a url is an error with file:line" "1" \
        "$("$I" --check-answerfile bad.xml 2>&1 | grep -c 'bad.xml:2: <report> needs a url attribute')"
t_finish
