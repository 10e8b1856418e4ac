#!/bin/sh
# check-units.sh BULKSYNC: extract the systemd service and timer from
# docs/operations.md and check them with systemd-analyze: verify (syntax,
# directives, the binary is executable) and security --offline (the
# exposure score must stay at most 2.0 and be the one the docs state).
# BULKSYNC is a built binary: verify insists that ExecStart's exists, so
# the extracted unit runs it instead of /usr/local/bin/bulksync.
set -eu
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
docs=docs/operations.md
command -v systemd-analyze >/dev/null || { echo "docs-check needs systemd-analyze (Debian: apt-get install systemd)"; exit 1; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# unit NAME: the ```ini block after the line naming /etc/systemd/system/NAME.
unit() {
	awk -v name="\`/etc/systemd/system/$1\`:" '$0 == name {f=1; next} f && /^```ini/ {p=1; next} p && /^```/ {exit} p {print}' "$docs"
}
unit bulksync.service | sed "s|/usr/local/bin/bulksync|$bin|g" >"$dir/bulksync.service"
unit bulksync.timer >"$dir/bulksync.timer"
for u in bulksync.service bulksync.timer; do
	[ -s "$dir/$u" ] || { echo "docs-check: no $u in $docs"; exit 1; }
done
grep -q "^ExecStart=$bin apply" "$dir/bulksync.service" || { echo "docs-check: the service does not run /usr/local/bin/bulksync apply"; exit 1; }

out=$(systemd-analyze verify "$dir/bulksync.service" "$dir/bulksync.timer" 2>&1) || { echo "$out"; echo "docs-check: systemd-analyze verify failed"; exit 1; }
[ -z "$out" ] || { echo "$out"; echo "docs-check: systemd-analyze verify warned"; exit 1; }

sec=$(systemd-analyze security --offline=yes --threshold=20 "$dir/bulksync.service" 2>&1) || { echo "$sec"; echo "docs-check: exposure above 2.0"; exit 1; }
score=$(echo "$sec" | sed -n 's/.*Overall exposure level for bulksync.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || { echo "$sec"; echo "docs-check: no exposure score"; exit 1; }
grep -q "exposure level for bulksync.service: $score " "$docs" || { echo "docs-check: the exposure is now $score; update the score in $docs"; exit 1; }
echo "docs-check: bulksync.service and bulksync.timer verify; exposure $score"
