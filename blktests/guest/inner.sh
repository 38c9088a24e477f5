#!/bin/bash
# Inside the Debian rootfs (chroot, see job.sh): build the patched blktests copy, then run the
# requested tests once per side (nvmf-fault through the bridge, then the kernel's own nvmet) and
# copy each side's results and ./check output to /run/share. Settings come from settings.env.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# udevadm and systemd-udevd refuse to act in a chroot ("Running in chroot, ignoring request",
# which also lands in the tests' output) unless told this one is the system.
export SYSTEMD_IGNORE_CHROOT=1
SHARE=/run/share
# shellcheck source=/dev/null
. "$SHARE/settings.env"

# The device nodes kmod declares for on-demand loading (a normal system's tmpfiles creates them):
# blktests unloads loop after tests, and /dev/loop-control must then load it again.
kmod static-nodes --format=tmpfiles 2>/dev/null | while read -r type path mode _ _ _ dev; do
	case $type in
	c* | b*)
		[ -e "$path" ] && continue
		mkdir -p "$(dirname "$path")"
		mknod -m "$mode" "$path" "${type:0:1}" "${dev%%:*}" "${dev##*:}"
		;;
	esac
done
/lib/systemd/systemd-udevd --daemon >/dev/null 2>&1
udevadm trigger >/dev/null 2>&1
udevadm settle -t 30 >/dev/null 2>&1

cp -a "$SHARE/blktests" /tmp/blktests
cd /tmp/blktests || exit 2
# Built on the host already (runner.ts); make only checks that it is up to date.
echo "@@BLKTESTS building@@"
make -k -j2 >/tmp/make.log 2>&1 || { echo "[job] make failed:"; tail -n 20 /tmp/make.log; }

# blktests keeps its images under the output directory. /tmp is tmpfs, which has no O_DIRECT, and
# nvmet opens a file-backed namespace with O_DIRECT (bd=file fails with EINVAL there): the output
# goes to an ext4 file system on a loop device instead.
mkdir -p /scratch
truncate -s 8G /tmp/scratch.img
# The kernel autoloads modules with the initramfs's modprobe, which cannot see this rootfs: load here.
modprobe loop
modprobe ext4
if ! mkfs.ext4 -q -F /tmp/scratch.img || ! scratch_dev=$(losetup -f --show /tmp/scratch.img) || ! mount "$scratch_dev" /scratch; then
	echo "[job] no scratch file system"
	exit 2
fi

# Test by test, each on every side in turn: a boot that ends early (runner.ts boots again for the
# rest) leaves both sides' results of the tests it finished. The nvmf-fault side answers
# --show-blkdev-type with one type (file); the kernel side runs the same one, so the rows pair up.
for side in $BLKTESTS_SIDES; do
	printf 'NVMET_TRTYPES=tcp\nNVMET_BLKDEV_TYPES=%s\nNVME_IMG_SIZE=%s\n' "$NVMF_FAULT_BLKDEV_TYPE" "$BLKTESTS_IMG_SIZE" >/tmp/config-"$side"
	mkdir -p "$SHARE/results-$side"
done
rc=0
for t in $BLKTESTS_TESTS; do
	for side in $BLKTESTS_SIDES; do
		if [ "$side" = nvmf-fault ]; then
			export NVME_TARGET_CONTROL="$SHARE/nvme-target-control"
		else
			unset NVME_TARGET_CONTROL
		fi
		echo "@@BLKTESTS side-start $side@@"
		# Appended: every test and every boot adds to the side's output.
		./check -c /tmp/config-"$side" -o /scratch/out-"$side" "$t" 2>&1 | tee -a "$SHARE/check-$side.log"
		[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
		# The per-test scratch directories hold the NVME_IMG_SIZE images: left behind.
		tar -C /scratch/out-"$side" --exclude='tmpdir.*' -cf - . | tar -C "$SHARE/results-$side" -xf -
		# The kernel log of this test on this side (read and cleared: the next test starts empty).
		{
			echo "=== $side $t"
			dmesg -c
		} >>"$SHARE/dmesg.log"
	done
done
exit "$rc"
