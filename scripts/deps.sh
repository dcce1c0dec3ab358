#!/bin/sh
# Install the Debian packages hb builds and tests with, when any is missing.
# As root: apt-get installs them. Otherwise: prints the exact command and fails.
# HB_DEPS_SKIP=1 skips the check (for machines that provide the libraries another way).
set -e
[ "${HB_DEPS_SKIP:-0}" = 1 ] && exit 0
PKGS="gcc make pkg-config python3 libarchive-dev libcjson-dev libzstd-dev libxxhash-dev libpcre2-dev libstb-dev
libyaml-dev libopenblas-dev libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev zlib1g-dev libcriterion-dev
sentencepiece zip"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends $missing >&2
else
  echo "deps: missing Debian packages:$missing" >&2
  echo "deps: run: sudo apt-get install -y$missing" >&2
  exit 1
fi
