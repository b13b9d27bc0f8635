#!/usr/bin/env bash
# Install the Debian packages the testbed runs on, if any is missing: etcd,
# containerd, runc, the CNI plugins, iptables, busybox-static (for the Redis
# image), redis-tools (its binaries go into the Redis image), openssl (PKI).
# apt-get update runs only when an install fails without it. Package scripts
# are kept from starting Debian's etcd and containerd services, which would
# take the testbed's ports. Needs root.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pkgs="etcd-server containerd runc containernetworking-plugins iptables busybox-static redis-tools
openssl ca-certificates curl iproute2 util-linux"
missing=()
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0
[ "$(id -u)" -eq 0 ] || die "installing ${missing[*]} needs root"

log "installing Debian packages: ${missing[*]}"
aptlog=$(mktemp)
trap 'rm -f "$aptlog"' EXIT
own_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	own_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
ok=1
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$aptlog" 2>&1; then
	log "apt-get install failed; running apt-get update and retrying"
	apt-get update -q >>"$aptlog" 2>&1 &&
		apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$aptlog" 2>&1 || ok=""
fi
[ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
if [ -z "$ok" ]; then
	tail -n 30 "$aptlog" >&2
	die "could not install ${missing[*]}"
fi
if [ -d /run/systemd/system ]; then
	systemctl disable --now etcd.service containerd.service >/dev/null 2>&1 || true
fi
log "installed ${missing[*]}"
