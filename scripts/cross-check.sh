#!/usr/bin/env bash
# cross-check.sh - builds traind for another CPU with Debian's cross
# compiler and runs its test suites there under qemu-user: how the portable
# kernel tier (plain C vectors, NEON on aarch64) is held to "builds and
# passes on aarch64" from an x86-64 machine.
#
#   scripts/cross-check.sh [ARCH]     ARCH: arm64 (default), a Debian name
#
# It changes the machine, as root on Debian 12: adds the dpkg architecture,
# installs crossbuild-essential-ARCH, qemu-user, qemu-user-binfmt and the
# build's -dev packages for ARCH, and registers qemu with binfmt_misc so
# that make check's scripts run the foreign binaries as they are. The tree
# (tracked files as they are in the work tree) is copied to a temporary
# directory and built there with -Wall -Wextra -Werror, so the native
# build is left alone. Then make check runs every suite but the browser
# test (chromium on the host against an emulated daemon: its CNN step
# outlasts its waits at emulation speed) and without Open MPI; the
# digits data must be fetched first (scripts/setup.sh build).
#
# OpenBLAS runs on one thread (OPENBLAS_NUM_THREADS=1, as make check sets):
# its thread pool spins forever under qemu-user's emulation of its waits.
# Expect several minutes on 2 cores.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:-arm64}
case $arch in
arm64) triplet=aarch64-linux-gnu qemu=aarch64 ;;
armhf) triplet=arm-linux-gnueabihf qemu=arm ;;
ppc64el) triplet=powerpc64le-linux-gnu qemu=ppc64le ;;
*) echo "cross-check: ARCH is arm64, armhf or ppc64el, not '$arch'" >&2; exit 2 ;;
esac

log() { printf '== %s\n' "$*" >&2; }

[ -n "$(ls -A "$here/data/digits" 2>/dev/null)" ] || {
	echo "cross-check: no digits in data/digits; run scripts/setup.sh build first" >&2
	exit 1
}

libs=(libmicrohttpd-dev libjansson-dev check libsubunit-dev zlib1g-dev libpng-dev
	libopenblas-dev libcurl4-openssl-dev)
if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
	log "dpkg --add-architecture $arch"
	dpkg --add-architecture "$arch"
fi
log "installing the $arch cross toolchain, libraries and qemu-user"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-remove "crossbuild-essential-$arch" qemu-user qemu-user-binfmt \
	"${libs[@]/%/:$arch}"

# binfmt_misc: the kernel hands ARCH's binaries to qemu. A container may
# need the file system mounted first; systemd-binfmt is not always there.
binfmt=/proc/sys/fs/binfmt_misc
[ -e "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt"
if [ ! -e "$binfmt/qemu-$qemu" ]; then
	log "registering qemu-$qemu with binfmt_misc"
	cat "/usr/lib/binfmt.d/qemu-$qemu.conf" >"$binfmt/register"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/traind-cross-$arch.XXXXXX")
log "copying the tree to $work"
(cd "$here" && git ls-files -z | xargs -0 cp --parents -t "$work")
ln -s "$here/data" "$work/data"
cd "$work"
log "autoreconf, configure --host=$triplet"
autoreconf -fi
PKG_CONFIG_LIBDIR=/usr/lib/$triplet/pkgconfig:/usr/share/pkgconfig \
	./configure -q --host="$triplet" --sysconfdir=/etc --without-mpi
make -j"$(nproc)"
file traind
OPENBLAS_NUM_THREADS=1 ./traind --version
log "make check on $arch (qemu-$qemu)"
tests=$(make -s -f - print-tests <<'EOF' 2>/dev/null || true
include Makefile
print-tests:
	@echo $(TESTS)
EOF
)
tests=$(echo "$tests" | tr ' ' '\n' | grep -v '^tests/browser.test$' | tr '\n' ' ')
status=0
make check TESTS="$tests" || status=$?
scripts/test-summary.sh || true
log "cross-check: $arch build and logs in $work"
exit "$status"
