#!/usr/bin/env bash
# image.sh assembles rdbak's container image without Docker or a registry:
# the same root filesystem the Dockerfile's final stage gets (the Dockerfile
# runs this script with --rootfs), packed as an OCI image-layout tarball and,
# with --import, loaded into the running testbed's containerd.
#
# Usage: hack/image.sh [--version V] [--tags T] [--output FILE] [--import]
#        hack/image.sh --rootfs DIR [--version V] [--tags T]
#   --version V   stamped into the binary (rdbak version) and the image tag;
#                 default: git describe --always --dirty, else "dev"
#   --tags T      extra Go build tags, comma-separated: rdbak_nogcs and
#                 rdbak_noazure leave the Google and Azure storage drivers
#                 out, for a smaller footprint where only file:// and s3://
#                 are used (README, "Memory")
#   --output FILE where the OCI tarball goes
#                 (default $RDBAK_CACHE/image/rdbak-<version>.oci.tar)
#   --import      also import it into the running testbed's containerd
#                 (images live in its state dir: import again after each up)
#   --rootfs DIR  only build the root filesystem into DIR (empty or absent);
#                 this is what the Dockerfile copies into its scratch stage
#
# Prints "<tarball> <image reference>" on stdout, as hack/testbed/images.sh
# does; the reference is rdbak.local/rdbak:<version>. Tests take the
# reference from there (e2e/image_test.go, e2e/restore_test.go).
#
# The root filesystem is exactly, owned by 0:0:
#   /rdbak                              the static binary, 0755
#   /etc/passwd, /etc/group             root and nonroot (65532:65532), no shell
#   /etc/ssl/certs/ca-certificates.crt  Debian's ca-certificates bundle
#   /tmp                                empty, 1777: mount an emptyDir here
# and the image config: User 65532:65532, Entrypoint ["/rdbak"],
# WorkingDir /, Env PATH, SSL_CERT_FILE and TMPDIR=/tmp.
#
# There is no /usr/share/zoneinfo: CRON_TZ= and timeZone work because
# cmd/rdbak imports time/tzdata (e2e/image_test.go checks it in a pod).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

die() {
	printf 'image.sh: %s\n' "$*" >&2
	exit 1
}
usage() {
	sed -n '2,/^set /s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

version="" tags="" output="" import=0 rootfs=""
while [ $# -gt 0 ]; do
	case $1 in
	--version) version=${2:?--version needs a value} && shift 2 ;;
	--tags) tags=${2?--tags needs a value} && shift 2 ;;
	--output) output=${2:?--output needs a file} && shift 2 ;;
	--import) import=1 && shift ;;
	--rootfs) rootfs=${2:?--rootfs needs a directory} && shift 2 ;;
	-h | --help) usage ;;
	*) printf 'image.sh: unknown argument %s\n' "$1" >&2 && usage ;;
	esac
done
if [ -z "$version" ]; then
	version=$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo dev)
fi
# An image tag: [A-Za-z0-9_.-], at most 128 characters, not starting with . or -.
[[ $version =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "version $version is not a valid image tag"
ref=rdbak.local/rdbak:$version
[[ $tags =~ ^[A-Za-z0-9_,]*$ ]] || die "--tags $tags: give Go build tags separated by commas"

ca=/etc/ssl/certs/ca-certificates.crt
[ -s "$ca" ] || die "$ca is missing: install Debian's ca-certificates"

# build_rootfs DIR fills the empty directory DIR with the image's files.
build_rootfs() {
	local r=$1
	mkdir -p "$r/etc/ssl/certs" "$r/tmp"
	(cd "$repo" && CGO_ENABLED=0 go build -buildvcs=false -trimpath -tags "disable_grpc_modules${tags:+,$tags}" \
		-ldflags "-s -w -X main.version=$version" -o "$r/rdbak" ./cmd/rdbak)
	chmod 0755 "$r/rdbak"
	# The shell field names no file: there is no shell in the image.
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnonroot:x:65532:\n' >"$r/etc/group"
	cp "$ca" "$r/etc/ssl/certs/ca-certificates.crt"
	chmod 0644 "$r/etc/passwd" "$r/etc/group" "$r/etc/ssl/certs/ca-certificates.crt"
	chmod 0755 "$r/etc" "$r/etc/ssl" "$r/etc/ssl/certs"
	chmod 1777 "$r/tmp"
}

if [ -n "$rootfs" ]; then
	mkdir -p "$rootfs"
	[ -z "$(ls -A "$rootfs")" ] || die "--rootfs $rootfs is not empty"
	build_rootfs "$rootfs"
	exit 0
fi

# lib.sh gives oci_image (a reproducible one-layer OCI tarball) and the
# testbed's containerd helpers that hack/testbed/import-image uses.
# shellcheck disable=SC1091
. "$repo/hack/testbed/lib.sh"
output=${output:-$RDBAK_CACHE/image/rdbak-$version.oci.tar}
mkdir -p "$(dirname "$output")"
if [ "$import" = 1 ]; then
	ctr_up || die "the testbed's containerd is not running at $TB_CTR_SOCK; run hack/testbed/up first"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build_rootfs "$work/rootfs"
oci_image "$ref" "$work/rootfs" "$output" \
	'{"User":"65532:65532","Entrypoint":["/rdbak"],"WorkingDir":"/","Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt","TMPDIR=/tmp"]}'
log "built $ref ($(stat -c %s "$output") bytes) in $output"

if [ "$import" = 1 ]; then
	ctr_import "$output"
	log "imported $ref"
fi
echo "$output $ref"
