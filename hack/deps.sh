#!/usr/bin/env bash
# hack/deps.sh installs the real servers that rdbak's integration tests start
# per test (internal/testenv): redis-server from Debian, Redis 6.2.16, Redis
# 7.4.1 and Valkey 8.0.1 built from the release tarballs in ../shared/redis-src
# (or $RDBAK_REDIS_SRC), MinIO, fake-gcs-server, promtool and helm built from
# their Go modules, and Azurite from npm.
#
# The heavy artefacts live outside the repo under $RDBAK_CACHE (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/rdbak), one directory per pinned version, so
# a warm run does nothing and CI can cache that one directory. It ends by
# writing $RDBAK_CACHE/deps.env, which testenv reads to find the binaries.
#
# Idempotent; quiet unless something fails; prints what it installed and how
# long it took. Needs root (or sudo) only when Debian packages are missing.
#
#   hack/deps.sh          # everything
#   hack/deps.sh redis    # redis-server and the Redis and Valkey builds, and deps.env
#   hack/deps.sh tools    # MinIO, fake-gcs-server, promtool, helm and Azurite
#
# The two parts take separate locks and may run at once: hack/test.sh builds
# the tools in the background while the Redis builds and the tests that need
# only Redis run.
set -euo pipefail
mode=${1:-all}
case $mode in
all | redis | tools) ;;
*)
	echo "deps: unknown part $mode: give redis, tools or nothing (everything)" >&2
	exit 2
	;;
esac

# Pinned versions. MinIO tags its releases RELEASE.<date>, which the Go module
# proxy does not treat as semver, so the pin is the pseudo-version of the
# newest commit the proxy serves (2026-02-12, builds with Go 1.26.8).
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
# Azurite 3.36+ declares node >=21/22; 3.35.0 runs on Debian 12's node 18 and
# on node 20.
AZURITE_VERSION=3.35.0
FAKEGCS_VERSION=v1.56.1
# promtool checks and unit-tests deploy/monitoring's alerting rules. The
# Prometheus module numbers its 3.x releases v0.3xx.y (3.16.0 is v0.316.0).
PROMTOOL_VERSION=v0.316.0
# remove_all_sd leaves out Prometheus's service discoveries (cloud SDKs,
# Kubernetes), which rule checks never use: the build takes half the time
# (388 to 180 s from an empty cache) and the binary 77 MB instead of 123.
PROMTOOL_TAGS=remove_all_sd
# helm renders the chart in deploy/monitoring's test and in e2e (the same
# version and path as e2e/helm_test.go's helmBin).
HELM_VERSION=v3.17.3

# Redis and Valkey release sources (git archive of the release tags) and their
# sha256. The build is keyed by the checksum, so a changed tarball is rebuilt
# and a tampered one refused.
REDIS_SOURCES=(
	"redis-6.2.16 46b6cf5ed9164256ab7f58f8c8f98b417e3b79c9a07a6605f3fcde5f57ef565b"
	"redis-7.4.1 ca0093e53f93507da9e539a36af5a68e1bb19a921a18a72a8c077b8741d658e8"
	"valkey-8.0.1 c3cd9d307a724fbb0054e67e66a0fb4024a8666df2f2cc191d15b895fa3b3621"
)
repo=$(cd "$(dirname "$0")/.." && pwd)
REDIS_SRC=${RDBAK_REDIS_SRC:-$repo/../shared/redis-src}

RDBAK_CACHE=${RDBAK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rdbak}
export RDBAK_CACHE

MINIO_BIN=$RDBAK_CACHE/minio/$MINIO_VERSION/minio
AZURITE_DIR=$RDBAK_CACHE/azurite/$AZURITE_VERSION
AZURITE_BIN=$AZURITE_DIR/node_modules/.bin/azurite-blob # the blob service alone
FAKEGCS_BIN=$RDBAK_CACHE/fake-gcs-server/$FAKEGCS_VERSION/fake-gcs-server
PROMTOOL_BIN=$RDBAK_CACHE/promtool/$PROMTOOL_VERSION-$PROMTOOL_TAGS/promtool
HELM_BIN=$RDBAK_CACHE/helm/$HELM_VERSION/helm

# now prints the time in microseconds; since START prints the seconds elapsed
# since such a time, with one decimal.
now() { echo "${EPOCHREALTIME/./}"; }
since() {
	local us=$(($(now) - $1))
	printf '%d.%ds' $((us / 1000000)) $((us / 100000 % 10))
}

start_all=$(now)
installed=()

mkdir -p "$RDBAK_CACHE"
LOG_DIR=$(mktemp -d)
# Half-built artefacts go to *.tmp.* dirs, renamed into place when complete;
# whatever is left of them at exit is removed.
tmp_dirs=("$LOG_DIR")
own_policy=
cleanup() {
	rm -rf "${tmp_dirs[@]}"
	if [ -n "$own_policy" ]; then
		as_root rm -f /usr/sbin/policy-rc.d
	fi
}
trap cleanup EXIT

# Two runs at once (a developer and a CI job on one machine) must not build
# into the same directory: serialise each part on a lock in the cache.
if command -v flock >/dev/null; then
	if [ "$mode" != tools ]; then
		exec 9>"$RDBAK_CACHE/.deps-redis.lock"
		flock 9
	fi
	if [ "$mode" != redis ]; then
		exec 8>"$RDBAK_CACHE/.deps-tools.lock"
		flock 8
	fi
fi

die() {
	echo "deps: $*" >&2
	exit 1
}

# run NAME CMD... runs CMD with its output in a log, printed only on failure.
run() {
	local name=$1 log=$LOG_DIR/$1.log
	shift
	if ! "$@" >"$log" 2>&1; then
		echo "deps: $name failed; last lines of its output:" >&2
		tail -n 40 "$log" >&2
		exit 1
	fi
}

# done_step NAME START records that NAME was installed, with its duration.
done_step() {
	installed+=("$1")
	echo "deps: installed $1 in $(since "$2")"
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo -n "$@"
	else
		die "need root or sudo to run: $*"
	fi
}

# apt_install installs the Debian packages not yet installed, with service
# start-up blocked by a policy-rc.d (removed again at exit when it is ours):
# tests start their own redis-server on free ports, and a Debian one on 6379
# would only get in the way.
apt_install() {
	local missing=() p
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local t0
	t0=$(now)
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		own_policy=1
		as_root sh -c 'printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
	fi
	export DEBIAN_FRONTEND=noninteractive
	# The other part of this script may be installing packages: wait for
	# dpkg's lock rather than fail.
	local wait=(-o DPkg::Lock::Timeout=600)
	if ! as_root apt-get install "${wait[@]}" -y -q --no-install-recommends "${missing[@]}" >"$LOG_DIR/apt.log" 2>&1; then
		run apt-get-update as_root apt-get update "${wait[@]}" -q
		run apt-get-install as_root apt-get install "${wait[@]}" -y -q --no-install-recommends "${missing[@]}"
	fi
	done_step "apt: ${missing[*]}" "$t0"
}

# stop_debian_redis keeps the packaged redis service from running: it was
# either blocked above or started by an earlier install.
stop_debian_redis() {
	if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
		if systemctl is-enabled --quiet redis-server 2>/dev/null || systemctl is-active --quiet redis-server 2>/dev/null; then
			as_root systemctl disable --now redis-server >/dev/null 2>&1 || true
		fi
	elif [ -f /run/redis/redis-server.pid ] && kill -0 "$(cat /run/redis/redis-server.pid)" 2>/dev/null; then
		as_root /etc/init.d/redis-server stop >/dev/null 2>&1 || true
	fi
}

# go_build NAME MODULE@VERSION DEST [TAGS] builds one Go command into DEST
# with its own GOPATH and build cache under $RDBAK_CACHE, so the cache
# directory alone makes a rebuild cheap. TAGS are Go build tags; DEST's path
# should name them, so that changing them rebuilds. No debug information:
# nobody debugs these tools here, and leaving out DWARF cut fake-gcs-server's
# build from 191 to 172 CPU seconds (MinIO's is the cold CI's longest step).
go_build() {
	local name=$1 pkg=$2 dest=$3 tags=${4:-} t0
	t0=$(now)
	[ -x "$dest" ] && return 0
	command -v go >/dev/null || die "go is not on PATH; install Go 1.26 first"
	local dir tmp
	dir=$(dirname "$dest")
	mkdir -p "$(dirname "$dir")"
	tmp=$(mktemp -d "$dir.tmp.XXXXXX")
	tmp_dirs+=("$tmp")
	run "$name" env GOPATH="$RDBAK_CACHE/go" GOCACHE="$RDBAK_CACHE/go-build" \
		GOBIN="$tmp" GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-modcacherw -buildvcs=false" \
		nice -n 10 go install -trimpath -tags="$tags" -gcflags=all=-dwarf=false -ldflags="-s -w" "$pkg"
	mkdir -p "$dir"
	mv "$tmp/$(basename "$dest")" "$dest"
	done_step "$name $pkg" "$t0"
}

install_azurite() {
	local t0
	t0=$(now)
	[ -x "$AZURITE_BIN" ] && return 0
	if ! command -v npm >/dev/null; then
		apt_install nodejs npm
	fi
	local tmp
	mkdir -p "$(dirname "$AZURITE_DIR")"
	tmp=$(mktemp -d "$AZURITE_DIR.tmp.XXXXXX")
	tmp_dirs+=("$tmp")
	run azurite nice -n 10 npm install --prefix "$tmp" --no-audit --no-fund --omit=dev \
		--no-update-notifier "azurite@$AZURITE_VERSION"
	rm -rf "$AZURITE_DIR"
	mv "$tmp" "$AZURITE_DIR"
	done_step "azurite@$AZURITE_VERSION" "$t0"
}

# build_redis NAME SHA256 builds one Redis or Valkey release from
# $REDIS_SRC/NAME.tar.gz into $RDBAK_CACHE/redis/NAME-<sha256[:12]>/ and
# appends NAME=<path of its server> to redis_bins. libc malloc and no TLS keep
# the build to gcc and make (the tests need neither jemalloc nor TLS); nice
# keeps it from starving the other users of a shared machine.
redis_bins=()
build_redis() {
	local name=$1 sha=$2 t0 flavor=${1%%-*}
	local dir=$RDBAK_CACHE/redis/$name-${sha:0:12}
	local server=$dir/$flavor-server
	t0=$(now)
	if [ ! -x "$server" ]; then
		local tarball=$REDIS_SRC/$name.tar.gz
		[ -f "$tarball" ] || die "$tarball not found; set RDBAK_REDIS_SRC to the directory holding $name.tar.gz"
		local got
		got=$(sha256sum "$tarball" | cut -d' ' -f1)
		[ "$got" = "$sha" ] || die "$tarball has sha256 $got, want $sha"
		mkdir -p "$RDBAK_CACHE/redis"
		local tmp
		tmp=$(mktemp -d "$dir.tmp.XXXXXX")
		tmp_dirs+=("$tmp")
		run "$name-untar" tar -xzf "$tarball" -C "$tmp"
		run "$name-make" nice -n 10 make -C "$tmp/$name" -j2 MALLOC=libc BUILD_TLS=no
		local b
		for b in server cli check-rdb; do
			cp "$tmp/$name/src/$flavor-$b" "$tmp/$flavor-$b"
		done
		rm -rf "$tmp/$name"
		chmod 755 "$tmp" # mktemp made it private
		rm -rf "$dir"
		mv "$tmp" "$dir"
		done_step "$name" "$t0"
	fi
	redis_bins+=("$name=$server")
}

# build_tools builds the Go tools and installs Azurite: what only the tests
# of storage, cmd/rdbak and deploy/monitoring need.
build_tools() {
	go_build minio "github.com/minio/minio@$MINIO_VERSION" "$MINIO_BIN"
	go_build fake-gcs-server "github.com/fsouza/fake-gcs-server@$FAKEGCS_VERSION" "$FAKEGCS_BIN"
	go_build promtool "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION" "$PROMTOOL_BIN" "$PROMTOOL_TAGS"
	go_build helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" "$HELM_BIN"
	install_azurite
}

if [ "$mode" = tools ]; then
	build_tools
	echo "deps: tools: ${#installed[@]} item(s) installed in $(since "$start_all")"
	exit 0
fi
apt_install redis-server redis-tools zstd
stop_debian_redis
debian_redis=$(redis-server --version | sed -n 's/.* v=\([0-9.]*\) .*/\1/p')
[ -n "$debian_redis" ] || die "cannot read the version of $(command -v redis-server)"
redis_bins+=("redis-$debian_redis=$(command -v redis-server)")
for src in "${REDIS_SOURCES[@]}"; do
	read -r name sha <<<"$src"
	build_redis "$name" "$sha"
done
if [ "$mode" = all ]; then
	build_tools
fi

env_file=$RDBAK_CACHE/deps.env
cat >"$env_file.tmp" <<EOF
# Written by hack/deps.sh; read by internal/testenv. Source it to use the
# same servers by hand.
export RDBAK_CACHE=$RDBAK_CACHE
export RDBAK_MINIO_BIN=$MINIO_BIN
export RDBAK_AZURITE_BIN=$AZURITE_BIN
export RDBAK_FAKEGCS_BIN=$FAKEGCS_BIN
export RDBAK_PROMTOOL_BIN=$PROMTOOL_BIN
export RDBAK_HELM_BIN=$HELM_BIN
# Every Redis and Valkey server the tests run against, as flavor-version=path.
export RDBAK_REDIS_SERVERS=$(IFS=,; echo "${redis_bins[*]}")
EOF
mv "$env_file.tmp" "$env_file"

if [ ${#installed[@]} -eq 0 ]; then
	echo "deps: all present, nothing installed ($(since "$start_all")); env in $env_file"
else
	echo "deps: installed ${#installed[@]} item(s) in $(since "$start_all"); env in $env_file"
fi
