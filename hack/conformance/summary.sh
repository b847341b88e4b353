#!/usr/bin/env bash
# summary.sh SUITE.LOG: one line per conformance test (PASS, FAIL or SKIP and
# its time) from `go test -v` output of TestConformance, then the totals.
# When no test ran (the suite's setup failed), the setup's error instead.
set -euo pipefail
log=${1:?usage: summary.sh SUITE.LOG}
# Tests are TestConformance's direct subtests: 4 spaces of indent, one
# slash in the name.
results=$(grep -E '^    --- (PASS|FAIL|SKIP): TestConformance/[^/ ]+ ' "$log" |
	sed -E 's/^    --- (PASS|FAIL|SKIP): TestConformance\/([^ ]+) \(([^)]*)\).*/\1 \2 \3/' | sort -k2 || true)
if [ -z "$results" ]; then
	echo "no conformance test ran; the suite stopped before them:"
	grep -E '^\s+(Error Trace|Error|Messages):|^--- FAIL|^(FAIL|ok)\s' "$log" | head -n 12 || true
	echo "its last wait:"
	grep -E '^\s+helpers\.go:[0-9]+: ' "$log" | tail -n 1 | cut -c1-240 || true
	exit 0
fi
printf '%-5s %-70s %s\n' RESULT TEST TIME
echo "$results" | awk '{ printf "%-5s %-70s %s\n", $1, $2, $3 }'
echo "$results" | awk '{ n[$1]++ } END { printf "passed %d, failed %d, skipped %d\n", n["PASS"], n["FAIL"], n["SKIP"] }'
