#!/bin/bash
# Fetching answer files the way answerfile= does at boot, against real
# servers on loopback: python3's http.server for http:// and https://
# (self-signed), tftpd-hpa for tftp:// when it is installed. Exit codes, one
# line per failure, retries within XENHOST_FETCH_TIMEOUT, the size limit, no
# credentials in anything printed or logged, and an answerfile_generator=
# script over http. Not covered here: ftp:// (no server on this machine) and
# real NFS (no NFS server in a container; tests/unit/test-fetch.c checks the
# mount and unmount against a stand-in mount(8)).
. "$(dirname "$0")/../lib.sh"

D=$XH_TOP/tests/data/answerfiles
I=xenhost-install
XH_BUILD=${XH_BUILD:-$(dirname "$XH_BIN")}
unset XENHOST_FETCH_TIMEOUT XENHOST_FETCH_TLS_VERIFY

SRV=$T_DIR/srv
mkdir -p "$SRV"
chmod 755 "$T_DIR" "$SRV"
cp "$D/fresh.xml" "$SRV/good.xml"
cp "$D/bad-many.xml" "$SRV/bad-many.xml"
cp "$XH_TOP/tests/data/fetch/generator.sh" "$SRV/generator.sh"
head -c 1048577 /dev/zero | tr '\0' ' ' >"$SRV/big.xml"
chmod 644 "$SRV"/*

SERVER_PIDS=()
fetch_cleanup() {
        local p
        for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
        t_cleanup
}
trap fetch_cleanup EXIT

# free_port SOCK_STREAM|SOCK_DGRAM: a loopback port nobody uses right now.
free_port() {
        python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, getattr(socket, sys.argv[1]))
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' "$1"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

PORT=$(free_port SOCK_STREAM)
(cd "$SRV" && exec python3 -m http.server --bind 127.0.0.1 "$PORT") >"$T_DIR/http.log" 2>&1 &
SERVER_PIDS+=($!)
for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
        sleep 0.1
done
U=http://127.0.0.1:$PORT

# http: a good file, as --check-answerfile and as --dry-run.
check "http: a good answer file is valid" $I --check-answerfile "$U/good.xml"
check_eq "http: the summary names the URL" \
        "$U/good.xml: valid: fresh install onto sda (SR lvm), management on eth0 (static), source local" \
        "$($I --check-answerfile "$U/good.xml" 2>/dev/null)"
check_eq "http: nothing on stderr" "" "$($I --check-answerfile "$U/good.xml" 2>&1 >/dev/null)"
out=$($I --dry-run --facts "$XH_TOP/tests/data/facts/vm.json" --answerfile "$U/good.xml" 2>&1)
check_eq "http: --dry-run exit code" 0 "$?"
check_eq "http: --dry-run prints the plan" "Install plan: fresh install of xenhost 0.2.0 (build 20261126, ext4.zst image)" \
        "$(printf '%s\n' "$out" | head -1)"

# 404: one line, exit 1, and at once (a missing file does not come back by waiting).
start=$(now_ms)
err=$($I --check-answerfile "$U/missing.xml" 2>&1 >/dev/null)
rc=$? took=$(($(now_ms) - start))
check_eq "http 404: exit code 1" 1 "$rc"
check_eq "http 404: one line" "xenhost-install: cannot fetch $U/missing.xml: HTTP 404" "$err"
check "http 404: not retried (${took} ms)" test "$took" -lt 5000

# A bad answer file over http: the problems name the URL and the line.
err=$($I --check-answerfile "$U/bad-many.xml" 2>&1 >/dev/null)
check_eq "http: a bad answer file fails with its problems" 5 "$(printf '%s\n' "$err" | grep -c "^$U/bad-many.xml:[0-9]*: ")"
check_eq "http: the unknown element is named with its line" "$U/bad-many.xml:13: unknown element <colour>" \
        "$(printf '%s\n' "$err" | grep colour)"

# Over 1 MiB is refused.
err=$($I --check-answerfile "$U/big.xml" 2>&1 >/dev/null)
check_eq "http: over 1 MiB: exit code 1" 1 "$?"
check_eq "http: over 1 MiB: one line" "xenhost-install: cannot fetch $U/big.xml: larger than 1024 KiB" "$err"

# Credentials in the URL: used, but never printed or logged.
C=http://admin:s3cr3t@127.0.0.1:$PORT
out=$($I --check-answerfile "$C/good.xml" 2>&1)
check_eq "credentials: the summary is redacted" \
        "http://***@127.0.0.1:$PORT/good.xml: valid: fresh install onto sda (SR lvm), management on eth0 (static), source local" \
        "$out"
err=$($I -v --log-file "$T_DIR/cred.log" --check-answerfile "$C/missing-too.xml" 2>&1 >/dev/null)
check_eq "credentials: the reason is redacted" \
        "xenhost-install: cannot fetch http://***@127.0.0.1:$PORT/missing-too.xml: HTTP 404" "$(printf '%s\n' "$err" | tail -1)"
check_eq "credentials: not on stderr, even with -v" 0 "$(printf '%s\n' "$err" | grep -c -e s3cr3t -e admin)"
check_eq "credentials: not in the log file" 0 "$(grep -c -e s3cr3t -e admin "$T_DIR/cred.log")"
check "credentials: the log file has the redacted URL" grep -q "http://\*\*\*@127.0.0.1:$PORT/missing-too.xml" \
        "$T_DIR/cred.log"
check_eq "credentials: the server was asked for the file" 1 \
        "$(grep -c '"GET /missing-too.xml HTTP/1.1" 404' "$T_DIR/http.log")"

# A token in the query string: sent to the server, never printed or logged.
Q="?token=t0k3nVALUE&expires=99"
out=$($I --check-answerfile "$U/good.xml$Q" 2>&1)
check_eq "query: the summary shows the keys, not the values" \
        "$U/good.xml?token=***&expires=***: valid: fresh install onto sda (SR lvm), management on eth0 (static), source local" \
        "$out"
err=$($I -v --log-file "$T_DIR/query.log" --check-answerfile "$U/missing-q.xml$Q" 2>&1 >/dev/null)
check_eq "query: the reason is redacted" \
        "xenhost-install: cannot fetch $U/missing-q.xml?token=***&expires=***: HTTP 404" "$(printf '%s\n' "$err" | tail -1)"
check_eq "query: not on stderr, even with -v" 0 "$(printf '%s\n' "$err" | grep -c t0k3nVALUE)"
check_eq "query: not in the log file" 0 "$(grep -c t0k3nVALUE "$T_DIR/query.log")"
out=$($I -v --log-file "$T_DIR/query-plan.log" --dry-run --facts "$XH_TOP/tests/data/facts/vm.json" \
        --answerfile "$U/good.xml$Q" 2>&1)
check_eq "query: --dry-run shows no token" 0 "$(printf '%s\n' "$out" | grep -c t0k3nVALUE)"
out=$($I --dry-run --json --facts "$XH_TOP/tests/data/facts/vm.json" --answerfile "$U/good.xml$Q" 2>&1)
check_eq "query: --dry-run --json shows no token" 0 "$(printf '%s\n' "$out" | grep -c t0k3nVALUE)"
check_eq "query: the server got the token, once a run" 3 "$(grep -c 'GET /good.xml?token=t0k3nVALUE&expires=99 ' "$T_DIR/http.log")"

# Nobody listening: retried with backoff (1 s, 2 s) until the total, then one line.
RPORT=$(free_port SOCK_STREAM)
start=$(now_ms)
err=$(XENHOST_FETCH_TIMEOUT=3 $I --check-answerfile "http://127.0.0.1:$RPORT/a.xml" 2>&1 >/dev/null)
rc=$? took=$(($(now_ms) - start))
check_eq "refused: exit code 1" 1 "$rc"
check_eq "refused: one line with the attempts" \
        "xenhost-install: cannot fetch http://127.0.0.1:$RPORT/a.xml: connection refused after 3 attempts" "$err"
check "refused: gave up after about the total (${took} ms)" test "$took" -ge 2900 -a "$took" -lt 10000
err=$(XENHOST_FETCH_TIMEOUT=0 $I --check-answerfile "http://127.0.0.1:$RPORT/a.xml" 2>&1 >/dev/null)
check_eq "refused: XENHOST_FETCH_TIMEOUT=0 makes one attempt" \
        "xenhost-install: cannot fetch http://127.0.0.1:$RPORT/a.xml: connection refused" "$err"
check_fails "a bad XENHOST_FETCH_TIMEOUT is refused" env XENHOST_FETCH_TIMEOUT=soon $I --check-answerfile "$U/good.xml"

# file:// and unknown schemes.
check "file://: a good answer file is valid" $I --check-answerfile "file://$D/fresh.xml"
err=$($I --check-answerfile "file://$T_DIR/none.xml" 2>&1 >/dev/null)
check_eq "file://: a missing file: exit code 1" 1 "$?"
check_eq "file://: a missing file: one line" "xenhost-install: cannot fetch file://$T_DIR/none.xml: no such file" "$err"
err=$($I --check-answerfile "gopher://127.0.0.1/a.xml" 2>&1 >/dev/null)
check_eq "an unknown scheme: one line" 1 "$(printf '%s\n' "$err" | grep -c 'unsupported scheme')"

# answerfile_generator=: the script is fetched over http, run, and what it
# prints is parsed (test_generate_http in the unit test program).
out=$(XH_FETCH_TEST_BASE_URL=$U "$XH_BUILD/tests/test-fetch" 2>&1)
check_eq "generator over http: the unit test program passes" 0 "$?"
check_eq "generator over http: it ran, not skipped" 1 "$(printf '%s\n' "$out" | grep -c '^\[       OK \] test_generate_http')"
check_eq "generator over http: the server served the script" 1 \
        "$(grep -c '"GET /generator.sh HTTP/1.1" 200' "$T_DIR/http.log")"

# https with a self-signed certificate: refused unless verification is
# turned off, which is then said out loud.
if command -v openssl >/dev/null; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -keyout "$T_DIR/key.pem" \
                -out "$T_DIR/cert.pem" >/dev/null 2>&1
        SPORT=$(free_port SOCK_STREAM)
        (cd "$SRV" && exec python3 -c 'import http.server, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()' "$SPORT" "$T_DIR/cert.pem" "$T_DIR/key.pem") >"$T_DIR/https.log" 2>&1 &
        SERVER_PIDS+=($!)
        for _ in $(seq 100); do
                (exec 3<>"/dev/tcp/127.0.0.1/$SPORT") 2>/dev/null && break
                sleep 0.1
        done
        S=https://127.0.0.1:$SPORT
        err=$($I --check-answerfile "$S/good.xml" 2>&1 >/dev/null)
        check_eq "https: a self-signed certificate: exit code 1" 1 "$?"
        check_eq "https: a self-signed certificate: one line, not retried" 1 \
                "$(printf '%s\n' "$err" | grep -c "^xenhost-install: cannot fetch $S/good.xml: TLS certificate not accepted: .*certificate")"
        out=$(XENHOST_FETCH_TLS_VERIFY=0 $I --check-answerfile "$S/good.xml" 2>&1)
        check_eq "https: verification off: exit code 0" 0 "$?"
        check_eq "https: verification off: a warning says so" \
                "xenhost-install: warning: TLS certificate verification is off for $S/good.xml" \
                "$(printf '%s\n' "$out" | grep warning)"
else
        ok "# skip https: no openssl to make a certificate"
fi

# tftp: needs tftpd-hpa's in.tftpd, which runs on loopback as it is.
if command -v in.tftpd >/dev/null; then
        TPORT=$(free_port SOCK_DGRAM)
        in.tftpd --foreground --listen --address "127.0.0.1:$TPORT" --secure "$SRV" >"$T_DIR/tftp.log" 2>&1 &
        SERVER_PIDS+=($!)
        sleep 0.5
        T=tftp://127.0.0.1:$TPORT
        check_eq "tftp: a good answer file is valid" \
                "$T/good.xml: valid: fresh install onto sda (SR lvm), management on eth0 (static), source local" \
                "$(XENHOST_FETCH_TIMEOUT=5 $I --check-answerfile "$T/good.xml" 2>&1)"
        err=$(XENHOST_FETCH_TIMEOUT=5 $I --check-answerfile "$T/missing.xml" 2>&1 >/dev/null)
        check_eq "tftp: a missing file: exit code 1" 1 "$?"
        check_eq "tftp: a missing file: one line" "xenhost-install: cannot fetch $T/missing.xml: no such file on the server" \
                "$err"
else
        ok "# skip tftp: in.tftpd (Debian package tftpd-hpa) is not installed"
fi

t_finish
