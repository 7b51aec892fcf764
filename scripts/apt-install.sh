#!/usr/bin/env bash
# Install Debian packages that are missing (as root, or through sudo): apt-install.sh PKG...
# Used by make targets that need a system tool (e.g. wrk for bench-api).
set -euo pipefail
missing=()
for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
echo "installing ${missing[*]}" >&2
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y "${missing[@]}" >&2 \
    || { as_root apt-get update >&2 && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y "${missing[@]}" >&2; }
