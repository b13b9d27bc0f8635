#!/usr/bin/env bash
# Build the Kubernetes binaries the testbed runs, from the k8s.io/kubernetes
# module via the Go module proxy (no git clone, no Docker). Results are cached
# under $RDBAK_CACHE/testbed/bin/$K8S_VERSION, so only the first run is slow
# (10-15 min on a 2-core VM); later runs return at once.
#
# Usage: hack/testbed/build-k8s.sh [cmd ...]
#   default cmds: kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CMDS=${*:-kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl}
BIN=$TB_CACHE/bin/$K8S_VERSION
WRAP=$TB_CACHE/wrap-k8s-$K8S_VERSION
export GOMODCACHE=$TB_CACHE/gomod
export GOCACHE=$TB_CACHE/gobuild
export GOFLAGS="-buildvcs=false"
export GOTOOLCHAIN=local
export CGO_ENABLED=0

missing() {
	need=""
	for c in $CMDS; do [ -x "$BIN/$c" ] || need="$need $c"; done
	[ -n "$need" ]
}
if ! missing; then
	log "k8s $K8S_VERSION binaries already built in $BIN"
	exit 0
fi
mkdir -p "$BIN" "$WRAP"

# Serialise concurrent builds (e.g. CI and a developer) on the same cache; a
# build that finished while we waited leaves nothing to do.
exec 9>"$TB_CACHE/build.lock"
if ! flock -n 9; then
	log "waiting for another build of k8s $K8S_VERSION to finish"
	flock 9
fi
if ! missing; then
	log "k8s $K8S_VERSION binaries already built in $BIN"
	exit 0
fi

minor=$(echo "$K8S_VERSION" | cut -d. -f2)
patch=$(echo "$K8S_VERSION" | cut -d. -f3)
staging="v0.$minor.$patch"
cd "$WRAP"
if [ ! -f .tidy-done ]; then
	# k8s.io/kubernetes replaces its staging modules with ./staging paths that
	# the module zip does not contain, so the wrapper pins each of them to the
	# published v0.<minor>.<patch> instead.
	modfile=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
	godir=$(awk '$1=="go"{print $2; exit}' "$modfile")
	{
		printf 'module rdbak.local/k8sbuild\n\ngo %s\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$godir" "$K8S_VERSION"
		grep -E '^[[:space:]]*k8s\.io/[^ ]+ => \./staging/' "$modfile" | awk -v v="$staging" '{print "\t" $1 " => " $1 " " v}'
		echo ")"
	} >go.mod.tmp
	mv go.mod.tmp go.mod
	{
		printf '//go:build tools\n\npackage tools\n\nimport (\n'
		for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
			printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"
		done
		echo ")"
	} >tools.go
	go mod tidy
	touch .tidy-done
fi

# No debug information (-s -w, and no DWARF compiled): on a cold machine
# these builds share the cores with the tests. (Not timed for these; for
# fake-gcs-server, hack/deps.sh, no DWARF took a tenth off the CPU.)
ldf="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldf="$ldf -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
# Build into a temp dir and move into place so an interrupted build never
# leaves a truncated binary that later runs would treat as cached.
tmp=$(mktemp -d "$BIN/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for c in $need; do
	log "building $c $K8S_VERSION"
	start=$(date +%s)
	go build -trimpath -gcflags=all=-dwarf=false -ldflags "$ldf" -o "$tmp/$c" "k8s.io/kubernetes/cmd/$c"
	mv "$tmp/$c" "$BIN/$c"
	log "built $c in $(($(date +%s) - start))s"
done
ls -l "$BIN"
