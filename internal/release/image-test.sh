#!/bin/sh
# image-test.sh IMAGE VERSION: test the container image without running a
# container (podman run needs a runtime that sandboxes may refuse): export
# its filesystem, check what is in it, and run it with chroot as the image's
# user with the image's environment. Needs root (chroot), podman and tar.
set -eu
image=$1
version=$2

fail() { echo "image-test: FAIL: $*" >&2; exit 1; }

root=$(mktemp -d)
chmod 0755 "$root" # the root of the image: user 65532 must traverse it
cid=$(podman create "$image")
trap 'podman rm -f "$cid" >/dev/null 2>&1 || true; rm -rf "$root"' EXIT
podman export "$cid" | tar -x -C "$root"

# The image is exactly the binary, the CA bundle, /tmp and /state.
got=$(cd "$root" && find . | LC_ALL=C sort | tr '\n' ' ')
want='. ./bulksync ./etc ./etc/ssl ./etc/ssl/certs ./etc/ssl/certs/ca-certificates.crt ./state ./tmp '
[ "$got" = "$want" ] || fail "the image holds: $got; want: $want"
[ "$(stat -c %a "$root/tmp")" = 1777 ] || fail "/tmp has mode $(stat -c %a "$root/tmp"), want 1777"
[ "$(stat -c '%u %a' "$root/state")" = "65532 700" ] || fail "/state is $(stat -c 'uid %u mode %a' "$root/state"), want uid 65532 mode 700"
grep -q 'BEGIN CERTIFICATE' "$root/etc/ssl/certs/ca-certificates.crt" || fail "no CA certificates in the bundle"

user=$(podman image inspect --format '{{.Config.User}}' "$image")
entrypoint=$(podman image inspect --format '{{json .Config.Entrypoint}}' "$image")
workdir=$(podman image inspect --format "{{.Config.WorkingDir}}" "$image")
[ "$user" = 65532:65532 ] || fail "user is $user, want 65532:65532"
[ "$entrypoint" = '["/bulksync"]' ] || fail "entrypoint is $entrypoint, want [\"/bulksync\"]"
[ "$workdir" = /state ] || fail "working directory is $workdir, want /state"
# The image's environment, one VAR=value per line (values have no spaces).
imgenv=$(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$image")

# in_image CMD...: run CMD in the image's filesystem as its user, with its
# environment and working directory and nothing from ours.
in_image() {
	# shellcheck disable=SC2086 # one word per VAR=value
	env -i $imgenv chroot --userspec="$user" "$root" /bulksync "$@"
}

# A static binary: it runs with no libc in the image.
out=$(cd / && in_image --version) || fail "/bulksync --version failed: $out"
echo "image-test: $out"
case "$out" in
"bulksync $version (revision "*) ;;
*) fail "--version printed '$out', want 'bulksync $version (revision ...'" ;;
esac

# The demo writes its export and reports to /tmp/d as user 65532 and talks
# to its in-process fake API over loopback.
out=$(in_image demo --dir /tmp/d 2>&1) || fail "/bulksync demo --dir /tmp/d failed: $out"
for f in report-1-plan.csv report-2-apply.csv report-3-apply-again.csv; do
	[ -s "$root/tmp/d/$f" ] || fail "the demo wrote no /tmp/d/$f"
	[ "$(stat -c %u "$root/tmp/d/$f")" = 65532 ] || fail "/tmp/d/$f is not owned by 65532"
done
echo "$out" | grep -q 'results: ok 7, skipped 5' || fail "the demo's last apply did not end as expected: $out"
echo "image-test: ok: $image runs as $user, --version and the demo pass in its exported filesystem"
