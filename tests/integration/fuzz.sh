#!/bin/bash
# The parsers that read what comes from outside, under libFuzzer with ASan
# and UBSan (tests/fuzz/): the answer file, the image manifest, the kernel
# command line and the partition-table probe. Builds the harnesses with
# clang into BUILD/fuzz, replays every input under tests/fuzz/regressions/,
# then runs each harness for FUZZ_SECONDS (40) from its seed corpus, two at
# a time. Any crash, leak, sanitizer report, hang or memory blow-up fails.
# The long run is `make fuzz-long`.
top=${XH_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${XH_BUILD:-$top/build}
exec bash "$top/tests/fuzz/run.sh" --make --build "$build/fuzz" --seconds "${FUZZ_SECONDS:-40}" --jobs 2
