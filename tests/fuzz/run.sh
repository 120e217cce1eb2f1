#!/bin/bash
# Runs the libFuzzer harnesses built by `make fuzz`: first every input kept
# under tests/fuzz/regressions/NAME/ (each once), then each harness for
# SECONDS from its seed corpus, at most JOBS at a time. Prints "ok N - ..." /
# "not ok N - ..." lines; any crash, leak, sanitizer report, timeout (an
# input taking over 10 s) or memory blow-up (over 1 GiB) fails, and the
# input that did it is kept under BUILD/fuzz-artifacts/NAME/.
#   tests/fuzz/run.sh --build BUILD [--seconds SECONDS] [--jobs JOBS] [--make] [NAME...]
# BUILD is the fuzz build directory (make fuzz FUZZ_O=BUILD); --make builds
# it first. The corpus grown by a run is kept under BUILD/fuzz-corpus/NAME/,
# so that long runs start where the last one stopped.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

build= seconds=40 jobs=2 do_make=0 names=()
while [ $# -gt 0 ]; do
        case "$1" in
        --build) build=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --make) do_make=1; shift ;;
        -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
        *) names+=("$1"); shift ;;
        esac
done
[ -n "$build" ] || { echo "usage: run.sh --build BUILD [--seconds S] [--jobs N] [--make] [NAME...]" >&2; exit 2; }
case "$build" in /*) ;; *) build="$XH_TOP/$build" ;; esac
fuzz_dir=$XH_TOP/tests/fuzz

# The same sanitizer settings as tests/run-tests (libparted's constructor
# is suppressed there); a report of any kind fails.
export ASAN_OPTIONS="suppressions=$XH_TOP/tests/asan.supp:detect_leaks=1:abort_on_error=0:exitcode=99${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# Temporary disk images of fuzz-disk go to memory when it can.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi

if [ "$do_make" -eq 1 ]; then
        start=$(date +%s)
        if ! command -v "${FUZZ_CC:-clang}" >/dev/null; then
                skip "fuzz harnesses build" "no ${FUZZ_CC:-clang} (tools/deps.sh test installs it)"
                t_finish; exit
        fi
        if make -C "$XH_TOP" -j2 fuzz FUZZ_O="$build" >"$T_DIR/make.log" 2>&1; then
                ok "fuzz harnesses build with clang, ASan, UBSan and libFuzzer ($(($(date +%s) - start)) s)"
        else
                not_ok "fuzz harnesses build with clang, ASan, UBSan and libFuzzer"
                grep -E 'error|undefined reference|cannot find' "$T_DIR/make.log" | head -20 | sed 's/^/#   /'
                t_finish; exit
        fi
fi

if [ ${#names[@]} -eq 0 ]; then
        for f in "$fuzz_dir"/fuzz-*.c; do n=$(basename "$f" .c); names+=("${n#fuzz-}"); done
fi

# ---- seed corpora ----
seeds=$T_DIR/seeds
mkdir -p "$seeds"

# Disk images: GPT and msdos labels made by sfdisk (tests/fuzz/disk-seeds.py).
mkdir -p "$seeds/disk"
if command -v sfdisk >/dev/null && ! python3 "$fuzz_dir/disk-seeds.py" "$seeds/disk" >"$T_DIR/seeds.log" 2>&1; then
        not_ok "fuzz disk: seed images made with sfdisk"
        sed 's/^/#   /' "$T_DIR/seeds.log" | tail -5
fi
[ -n "$(ls "$seeds/disk")" ] || printf '\x55\xaa' >"$seeds/disk/empty"

# The seed directories of a harness, read-only: its own under tests/fuzz/corpus/,
# plus the answer files of tests/data for the answer-file parser.
seed_dirs() { # NAME
        local d
        for d in "$fuzz_dir/corpus/$1" "$seeds/$1"; do [ -d "$d" ] && echo "$d"; done
        [ "$1" != answerfile ] || echo "$XH_TOP/tests/data/answerfiles"
}
max_len() { # NAME: inputs up to this size
        case "$1" in
        disk) echo $(((128 + 33) * 512)) ;;
        answerfile) echo 65536 ;;
        *) echo 8192 ;;
        esac
}
fuzz_opts=(-timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=1024 -print_final_stats=1)

# ---- regressions: every input once ----
for n in "${names[@]}"; do
        bin=$build/fuzz/fuzz-$n
        if [ ! -x "$bin" ]; then
                not_ok "fuzz $n: no harness $bin (make fuzz FUZZ_O=$build)"
                continue
        fi
        inputs=("$fuzz_dir"/regressions/"$n"/*)
        [ -e "${inputs[0]}" ] || continue
        if "$bin" "${fuzz_opts[@]}" "${inputs[@]}" >"$T_DIR/$n.regressions.log" 2>&1 &&
                ! grep -q -E 'ERROR: |runtime error:|==ERROR|SUMMARY: ' "$T_DIR/$n.regressions.log"; then
                ok "fuzz $n: ${#inputs[@]} regression inputs replayed, no crash"
        else
                not_ok "fuzz $n: a regression input fails again"
                grep -E 'ERROR|runtime error|invariant|Running:' "$T_DIR/$n.regressions.log" | head -10 | sed 's/^/#   /'
        fi
done

# ---- fuzzing, JOBS at a time ----
run_one() { # NAME
        local n=$1 bin=$build/fuzz/fuzz-$1 corpus=$build/fuzz-corpus/$1 art=$T_DIR/artifacts-$1/
        mkdir -p "$corpus" "$art"
        local dirs
        mapfile -t dirs < <(seed_dirs "$n")
        "$bin" "${fuzz_opts[@]}" -max_total_time="$seconds" -max_len="$(max_len "$n")" \
                -artifact_prefix="$art" "$corpus" "${dirs[@]}" >"$T_DIR/$n.log" 2>&1
        echo $? >"$T_DIR/$n.rc"
}
running=0
for n in "${names[@]}"; do
        [ -x "$build/fuzz/fuzz-$n" ] || continue
        if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
        run_one "$n" &
        running=$((running + 1))
done
wait

for n in "${names[@]}"; do
        [ -f "$T_DIR/$n.rc" ] || continue
        log=$T_DIR/$n.log rc=$(cat "$T_DIR/$n.rc")
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
        if [ "$rc" -eq 0 ] && [ -n "$runs" ] && [ "$runs" -gt 0 ] &&
                ! grep -q -E '==ERROR|runtime error:|^SUMMARY: |deadly signal|ALARM: working on the last Unit' "$log"; then
                ok "fuzz $n: $runs runs in $seconds s ($eps/s), no crash"
        else
                not_ok "fuzz $n: exit status $rc${runs:+ after $runs runs}"
                grep -E 'ERROR|runtime error|invariant broken|deadly signal|out-of-memory|Timeout|#[0-9]+ 0x' "$log" | grep -v -E 'fuzzer::|libc_start|_start ' |
                        head -25 | sed 's/^/#   /'
                mkdir -p "$build/fuzz-artifacts/$n"
                cp "$log" "$build/fuzz-artifacts/$n/last-run.log"
                for a in "$T_DIR/artifacts-$n"/{crash,leak,timeout,oom}-*; do
                        [ -e "$a" ] || continue
                        cp "$a" "$build/fuzz-artifacts/$n/"
                        echo "#   input kept: $build/fuzz-artifacts/$n/$(basename "$a") (once fixed, add it to tests/fuzz/regressions/$n/)"
                done
        fi
done
t_finish
