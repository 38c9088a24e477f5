#!/bin/sh
# The blktests job in the interop guest (busybox ash, run by kernel/guest/init). The host share
# holds rootfs/ (the Debian rootfs that can run blktests; a bind mount of the cached one) and run/
# (this run: the patched blktests copy, the bridge, the settings, and the results coming back).
# The initramfs has already loaded the NVMe/TCP host and target modules; everything else runs in
# the Debian rootfs through chroot.
set -u
# The init mounts the share uncached, and then every exec of curl, bash or gcc reads its files over
# 9p again (seconds each under TCG). Mount it again with the page cache on (one mount per tag is
# possible). The rootfs does not change while the guest runs; the init syncs and unmounts at the end.
umount /host || exit 2
mkdir -p /mnt/cached
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=loose vmshare /mnt/cached || exit 2
mount -o bind /mnt/cached /host
R=/mnt/cached/rootfs
[ -x "$R/bin/bash" ] || { echo "[job] no rootfs at $R"; exit 2; }
mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
mount -t configfs configfs "$R/sys/kernel/config" 2>/dev/null
mount -t debugfs debugfs "$R/sys/kernel/debug" 2>/dev/null
mount -t devtmpfs devtmpfs "$R/dev"
mkdir -p "$R/dev/pts"
mount -t devpts devpts "$R/dev/pts"
# ./check uses process substitution, which needs /dev/fd.
[ -e "$R/dev/fd" ] || ln -s /proc/self/fd "$R/dev/fd"
for n in 0:stdin 1:stdout 2:stderr; do [ -e "$R/dev/${n#*:}" ] || ln -s "/proc/self/fd/${n%%:*}" "$R/dev/${n#*:}"; done
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
mount -t tmpfs tmpfs "$R/run"
mkdir -p "$R/run/share"
mount -o bind /host/run "$R/run/share"
chroot "$R" /bin/bash /run/share/inner.sh
rc=$?
umount "$R/run/share" "$R/run" "$R/tmp" "$R/dev/pts" "$R/dev" 2>/dev/null
umount "$R/sys/kernel/debug" "$R/sys/kernel/config" "$R/sys" "$R/proc" 2>/dev/null
sync
exit "$rc"
