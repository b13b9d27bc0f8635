#!/usr/bin/env bash
# Build the testbed's OCI images as image-layout tarballs, with no registry and
# no container engine, into $RDBAK_CACHE/testbed/images:
#   rdbak.local/pause:1.0        pod sandbox (pause/main.go, static)
#   rdbak.local/redis:<version>  Debian's redis-server and redis-cli with their
#                                shared libraries, plus busybox (sh, cat, mv,
#                                stat, sha256sum, df, sync, ...)
# The file names carry a hash of this script, lib.sh and pause/main.go, so a
# change to the recipe rebuilds them; otherwise this returns at once.
# Prints "<tarball> <image ref>" per image on stdout; up imports them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v redis-cli >/dev/null || die "redis-tools is not installed"
command -v busybox >/dev/null || [ -x /bin/busybox ] || die "busybox-static is not installed"
rev=$(cat "$0" "$TB_DIR/lib.sh" "$TB_DIR/pause/main.go" | sha256sum | cut -c1-12)
redis_version=$(dpkg-query -W -f='${Version}' redis-tools | sed 's/^[0-9]*://; s/-.*//')
mkdir -p "$TB_IMAGES"

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

redis_tar=$TB_IMAGES/redis-$redis_version-$rev.oci.tar
if [ ! -f "$redis_tar" ]; then
	rm -f "$TB_IMAGES"/redis-*.oci.tar
	r=$(mktemp -d)
	mkdir -p "$r/usr/bin" "$r/bin" "$r/etc" "$r/data" "$r/tmp"
	chmod 1777 "$r/tmp"
	chmod 0777 "$r/data"
	# Debian's redis-server is the redis-check-rdb binary of redis-tools: it
	# picks its mode from argv[0].
	cp /usr/bin/redis-check-rdb "$r/usr/bin/redis-server"
	cp /usr/bin/redis-cli "$r/usr/bin/redis-cli"
	ln -s redis-server "$r/usr/bin/redis-check-rdb"
	ln -s redis-server "$r/usr/bin/redis-check-aof"
	# Every absolute path ldd prints: the libraries and the ELF interpreter.
	for lib in $(ldd /usr/bin/redis-check-rdb /usr/bin/redis-cli | grep -o '/[^ ]*' | sort -u); do
		case $lib in /usr/bin/*) continue ;; esac
		mkdir -p "$r$(dirname "$lib")"
		cp -L "$lib" "$r$lib"
	done
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nredis:x:999:999:redis:/data:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/bin/false\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\nredis:x:999:\nnonroot:x:65532:\nnogroup:x:65534:\n' >"$r/etc/group"
	oci_image "rdbak.local/redis:$redis_version" "$r" "$redis_tar" \
		'{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["redis-server","--dir","/data","--protected-mode","no"],"WorkingDir":"/data","ExposedPorts":{"6379/tcp":{}}}'
	rm -rf "$r"
	log "built rdbak.local/redis:$redis_version ($(stat -c %s "$redis_tar") bytes)"
fi
echo "$pause_tar rdbak.local/pause:1.0"
echo "$redis_tar rdbak.local/redis:$redis_version"
