# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this
# Shared settings and helpers for the hack/testbed scripts. Sourced, not run.
#
# Knobs (all optional):
#   RDBAK_CACHE           cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/rdbak);
#                         the testbed keeps binaries, images and its Go caches
#                         in $RDBAK_CACHE/testbed, outside the repo, so a fresh
#                         clone (CI) reuses them
#   RDBAK_TESTBED_STATE   runtime state: PKI, etcd data, containerd, kubelet,
#                         logs, PID files, env.sh (default $RDBAK_CACHE/testbed-state)
#   K8S_VERSION           Kubernetes version to build and run (default v1.33.13)

TB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RDBAK_CACHE=${RDBAK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rdbak}
TB_CACHE=$RDBAK_CACHE/testbed
RDBAK_TESTBED_STATE=${RDBAK_TESTBED_STATE:-$RDBAK_CACHE/testbed-state}
TB_STATE=$RDBAK_TESTBED_STATE
K8S_VERSION=${K8S_VERSION:-v1.33.13}
TB_BIN=$TB_CACHE/bin/$K8S_VERSION
TB_IMAGES=$TB_CACHE/images
# The containerd socket of the testbed; every ctr call names it, so the
# scripts never touch another containerd on the host.
TB_CTR_SOCK=$TB_STATE/run/containerd.sock
mkdir -p "$TB_CACHE"

log() { printf '[testbed %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# oci_image REF ROOTFS OUT [CONFIG_JSON] writes an OCI image-layout tarball
# OUT holding one layer made from ROOTFS (a directory, or a tar/tar.gz of the
# root filesystem) and the image config CONFIG_JSON (the "config" object of an
# OCI image config, default {}). The index annotation io.containerd.image.name
# carries REF, so `ctr images import` tags the image REF with no registry
# involved. Owners in a directory ROOTFS are stored as 0:0; the output is
# byte-for-byte reproducible.
oci_image() {
	local ref=$1 rootfs=$2 out=$3 cfg=${4:-'{}'} w
	w=$(mktemp -d)
	mkdir -p "$w/blobs/sha256"
	if [ -d "$rootfs" ]; then
		# The entries of ROOTFS, not ROOTFS itself: a "./" entry would give the
		# container's / the mode of ROOTFS (0700 for a mktemp -d), and non-root
		# images could not reach their own files.
		(cd "$rootfs" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort) |
			tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$rootfs" -cf "$w/layer.tar" -T -
	elif gzip -t "$rootfs" 2>/dev/null; then
		gzip -dc "$rootfs" >"$w/layer.tar"
	elif [ -f "$rootfs" ]; then
		cp "$rootfs" "$w/layer.tar"
	else
		rm -rf "$w"
		die "oci_image: $rootfs is neither a directory nor a tar file"
	fi
	local diffid layer lsize
	diffid=$(sha256sum "$w/layer.tar" | cut -d' ' -f1)
	gzip -n -6 -c "$w/layer.tar" >"$w/layer.tgz"
	rm "$w/layer.tar"
	layer=$(sha256sum "$w/layer.tgz" | cut -d' ' -f1)
	lsize=$(stat -c %s "$w/layer.tgz")
	mv "$w/layer.tgz" "$w/blobs/sha256/$layer"
	printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"rdbak hack/testbed"}]}' \
		"$cfg" "$diffid" >"$w/config.json"
	local config csize
	config=$(sha256sum "$w/config.json" | cut -d' ' -f1)
	csize=$(stat -c %s "$w/config.json")
	mv "$w/config.json" "$w/blobs/sha256/$config"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
		"$config" "$csize" "$layer" "$lsize" >"$w/manifest.json"
	local manifest msize
	manifest=$(sha256sum "$w/manifest.json" | cut -d' ' -f1)
	msize=$(stat -c %s "$w/manifest.json")
	mv "$w/manifest.json" "$w/blobs/sha256/$manifest"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
		"$manifest" "$msize" "$ref" "${ref##*:}" >"$w/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$w/oci-layout"
	tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$w" -cf "$out.tmp" oci-layout index.json blobs
	mv "$out.tmp" "$out"
	rm -rf "$w"
}

# ctr_import OCI_TAR imports an image tarball into the testbed's containerd,
# in the k8s.io namespace the kubelet uses.
ctr_import() {
	ctr --address "$TB_CTR_SOCK" -n k8s.io images import "$1" >/dev/null ||
		die "import $1 into containerd at $TB_CTR_SOCK"
}

# ctr_up reports whether the testbed's containerd answers.
ctr_up() {
	[ -S "$TB_CTR_SOCK" ] && ctr --address "$TB_CTR_SOCK" version >/dev/null 2>&1
}
