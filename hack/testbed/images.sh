#!/usr/bin/env bash
# Build the testbed's OCI images as image-layout tarballs, with no registry and
# no container engine, into $RDBAK_CACHE/testbed/images:
#   rdbak.local/pause:1.0        pod sandbox (pause/main.go, static)
#   rdbak.local/redis:<version>  Debian's redis-server and redis-cli, the
#                                testbed's default Redis
#   rdbak.local/redis:6.2.16, rdbak.local/redis:7.4.1, rdbak.local/valkey:8.0.1
#                                one per server hack/deps.sh built (the
#                                RDBAK_REDIS_SERVERS of $RDBAK_CACHE/deps.env),
#                                so e2e tests run the versions the seeds run
# Every Redis image is the same recipe (redis_image): the server and its cli
# with their shared libraries, plus busybox (sh, cat, mv, stat, sha256sum, df,
# sync, ...) and an /etc/passwd.
# The file names carry a hash of this script, lib.sh and pause/main.go, and of
# the binaries in the image, so a change to the recipe or a rebuilt server
# rebuilds them; otherwise this returns at once.
# Prints one line per image on stdout, which up imports:
#   <tarball> <image ref>                 the pause image
#   <tarball> <image ref> <server name>   a Redis image, Debian's first; the
#                                         name is testenv's Server.Name
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v redis-cli >/dev/null || die "redis-tools is not installed"
command -v busybox >/dev/null || [ -x /bin/busybox ] || die "busybox-static is not installed"
rev=$(cat "$0" "$TB_DIR/lib.sh" "$TB_DIR/pause/main.go" | sha256sum | cut -c1-12)
mkdir -p "$TB_IMAGES"

deps_env=$RDBAK_CACHE/deps.env
[ -f "$deps_env" ] || die "no $deps_env: run hack/deps.sh first (it builds the Redis and Valkey servers the images carry)"
servers=$(sed -n "s/^export RDBAK_REDIS_SERVERS=//p" "$deps_env" | tr -d "'\"")
[ -n "$servers" ] || die "$deps_env lists no RDBAK_REDIS_SERVERS: run hack/deps.sh again"

pause_tar=$TB_IMAGES/pause-1.0-$rev.oci.tar
if [ ! -f "$pause_tar" ]; then
	rm -f "$TB_IMAGES"/pause-*.oci.tar
	r=$(mktemp -d)
	(cd "$TB_DIR/pause" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
		go build -trimpath -ldflags "-s -w" -o "$r/pause" .)
	oci_image rdbak.local/pause:1.0 "$r" "$pause_tar" '{"Entrypoint":["/pause"]}'
	rm -rf "$r"
	log "built rdbak.local/pause:1.0 ($(stat -c %s "$pause_tar") bytes)"
fi
echo "$pause_tar rdbak.local/pause:1.0"

# redis_image NAME SERVER CLI builds (unless cached) and prints the image of
# server NAME (flavor-version, e.g. valkey-8.0.1): rdbak.local/<flavor>:<version>
# holding SERVER as /usr/bin/<flavor>-server and CLI as /usr/bin/<flavor>-cli,
# with redis-* names for Valkey's, the check-rdb/check-aof modes as links (the
# server picks its mode from argv[0]), every library ldd names, busybox and
# passwd/group files for the users the e2e pods run as.
redis_image() {
	local name=$1 server=$2 cli=$3
	local flavor=${name%%-*} version=${name#*-}
	local ref=rdbak.local/$flavor:$version bin tar r lib a
	[ -x "$server" ] && [ -x "$cli" ] || die "$name: no $server or $cli: run hack/deps.sh"
	bin=$(cat "$server" "$cli" | sha256sum | cut -c1-12)
	tar=$TB_IMAGES/$name-$rev-$bin.oci.tar
	if [ ! -f "$tar" ]; then
		rm -f "$TB_IMAGES/$name"-*.oci.tar
		r=$(mktemp -d)
		mkdir -p "$r/usr/bin" "$r/bin" "$r/etc" "$r/data" "$r/tmp"
		chmod 1777 "$r/tmp"
		chmod 0777 "$r/data"
		cp "$server" "$r/usr/bin/$flavor-server"
		cp "$cli" "$r/usr/bin/$flavor-cli"
		for a in check-rdb check-aof; do ln -s "$flavor-server" "$r/usr/bin/$flavor-$a"; done
		if [ "$flavor" != redis ]; then
			for a in server cli check-rdb check-aof; do ln -s "$flavor-$a" "$r/usr/bin/redis-$a"; done
		fi
		# Every absolute path ldd prints: the libraries and the ELF interpreter.
		# (ldd's lines for each file it names start with a tab).
		for lib in $(ldd "$server" "$cli" | grep $'^\t' | grep -o '/[^ ]*' | sort -u); do
			mkdir -p "$r$(dirname "$lib")"
			cp -L "$lib" "$r$lib"
		done
		cp /bin/busybox "$r/bin/busybox"
		for a in $(/bin/busybox --list); do
			[ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
		done
		printf 'root:x:0:0:root:/root:/bin/sh\nredis:x:999:999:redis:/data:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/bin/false\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
		printf 'root:x:0:\nredis:x:999:\nnonroot:x:65532:\nnogroup:x:65534:\n' >"$r/etc/group"
		oci_image "$ref" "$r" "$tar" \
			'{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["redis-server","--dir","/data","--protected-mode","no"],"WorkingDir":"/data","ExposedPorts":{"6379/tcp":{}}}'
		rm -rf "$r"
		log "built $ref ($(stat -c %s "$tar") bytes)"
	fi
	echo "$tar $ref $name"
}

# Debian's redis-server is the redis-check-rdb binary of redis-tools (the
# other names are links to it).
debian=redis-$(dpkg-query -W -f='${Version}' redis-tools | sed 's/^[0-9]*://; s/-.*//')
redis_image "$debian" /usr/bin/redis-check-rdb /usr/bin/redis-cli
for pair in ${servers//,/ }; do
	name=${pair%%=*} server=${pair#*=}
	[ "$name" != "$debian" ] || continue
	flavor=${name%%-*}
	redis_image "$name" "$server" "$(dirname "$server")/$flavor-cli"
done
