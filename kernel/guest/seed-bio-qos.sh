#!/bin/sh
# seed-bio-qos.sh - the Linux host side of `nvmf-fault reproduce seed-bio-qos` (busybox ash).
# Connects every path of the nvme/058 topology, attaches tracefs kprobes, runs writers on every
# namespace while the host (our target) runs the paced remap storm, then reports what it saw.
#
# Environment:
#   SB_SUBNQN     subsystem NQN
#   SB_PORTS      target TCP ports on the host, "P1 P2 ..." (every path)
#   SB_NSIDS      namespaces to write, "1 2 3"
#   SB_QOS_MASK   BIO_QOS_THROTTLED|BIO_QOS_MERGED as a bi_flags mask for this kernel (e.g. 0x600)
#   SB_FLAGS_OFF  byte offset of bi_flags (u16) in struct bio (20 on x86_64 since 5.x)
#   SB_MAX_SECS   writers stop after this long even without the host's "stop" (default 120)
#   SB_QOS        wbt (default: the path disks' writeback throttling only) | iocost | throttle |
#                 all: also put the writers in a cgroup v2 group with the io controller and try
#                 io.cost (iocost) / io.max (blk-throttle) on the multipath heads and on the hidden
#                 path disks; afterwards check that the rq_qos / cgroup state drained (see qos_*)
#   SB_WBPS       blk-throttle write limit per head, bytes/s (default 2097152)
#   SB_WBT_LAT    writeback-throttling latency target for every path disk, µs (queue/wbt_lat_usec;
#                 default: the kernel's, 2000): lower throttles harder, more writers wait in wbt
# Share: signals "writers" (writers running) and waits for "stop"; writes kprobe-trace.txt.
# Results: kprobes (attached|missing: why), paths, write_errors, write_ok, errors.<kind>,
#   no_path_lines (kernel log "no available path - failing I/O"), kernel_problems; with SB_QOS
#   other than wbt, qos.* (kernel/seed-bio-qos-parse.ts qosFindings reads them).
. "$VM_LIB"

NQN="$SB_SUBNQN"
QOS="${SB_QOS_MASK:-0x600}"
OFF="${SB_FLAGS_OFF:-20}"
MAX="${SB_MAX_SECS:-120}"
QOSMODE="${SB_QOS:-wbt}"
res() { vm_result "$1" "$2"; }
CGROOT=/sys/fs/cgroup
CG=$CGROOT/nvmf-qos

n=0
for p in $SB_PORTS; do
  timeout 90 nvme connect -t tcp -a "$VM_HOST_IP" -s "$p" -n "$NQN" --ctrl-loss-tmo=60 --reconnect-delay=1 >/dev/null 2>&1 && n=$((n + 1))
done
res paths "$n"
heads_ready() { for ns in $SB_NSIDS; do vm_head_dev "$NQN" "$ns" >/dev/null || return 1; done; }
vm_until 30 heads_ready || vm_say "not every namespace has a head device"
for ns in $SB_NSIDS; do
  h=$(vm_head_dev "$NQN" "$ns") && vm_say "nsid $ns: $h, paths: $(ls -d /sys/block/"$(basename "$h")"/../../nvme*c*n"${h##*n}" 2>/dev/null | wc -l)"
done
wbt=""; for q in /sys/block/nvme*c*n*/queue/wbt_lat_usec; do [ -e "$q" ] && wbt="$wbt $(cat "$q")"; done
res wbt_lat_usec "$(echo $wbt | tr ' ' ',')"

# ---- kprobes (tracefs; lib.sh): failovers and QoS-flagged bios entering / failed on the head.
kp=missing
vm_kprobes_attach "$QOS" "$OFF" >/dev/null && kp=attached
res kprobes "$VM_KPROBES"

# ---- cgroup v2 io controllers (SB_QOS != wbt)
# A blkcg config line names a disk by MAJ:MIN (blkg_conf_open_bdev). The heads have one
# (/sys/block/nvmeXnY/dev); the hidden path disks nvmeXcYnZ have no dev_t in sysfs and no
# registered block_device (device_add_disk skips bdev_add for GENHD_FL_HIDDEN), but their
# gendisk still took a minor of the extended major 259: try every 259:N nobody shows.
qos_try() {  # qos_try FILE LINE: write LINE to FILE, print "ok" or the error text
  _e=$( (echo "$2" > "$1") 2>&1 ) && echo ok || echo "$_e" | sed 's/.*: //; s/ /_/g'
}
qos_tally() {  # qos_tally KEY FILE LINE-SUFFIX MM...: try each MM, result KEY=error:count,...
  _k=$1; _f=$2; _sfx=$3; shift 3
  for _mm in "$@"; do qos_try "$_f" "$_mm $_sfx"; done | sort | uniq -c | awk '{ printf "%s%s:%s", (NR > 1 ? "," : ""), $2, $1 }' > /tmp/tally
  res "$_k" "$(cat /tmp/tally)"
}
head_mms() { for _ns in $SB_NSIDS; do _h=$(vm_head_dev "$NQN" "$_ns") && cat "/sys/block/$(basename "$_h")/dev"; done; }
path_mm_candidates() {
  _used=" $(ls /sys/dev/block/ | tr '\n' ' ')"
  _max=$(ls /sys/dev/block/ | awk -F: '$1 == 259 && $2 > m { m = $2 } END { print m + 0 }')
  _n=0; while [ $_n -le $((_max + 24)) ]; do case "$_used" in *" 259:$_n "*) ;; *) echo "259:$_n" ;; esac; _n=$((_n + 1)); done
}
qos_setup() {
  mkdir -p $CGROOT
  if ! mount -t cgroup2 none $CGROOT 2>/dev/null; then res qos.cgroup "missing: cannot mount cgroup2"; return 1; fi
  res qos.cgroup "$(qos_try $CGROOT/cgroup.subtree_control +io)"
  # cgroup writeback (buffered writes charged to the group) needs the memory controller too.
  res qos.cgroup_memory "$(qos_try $CGROOT/cgroup.subtree_control +memory)"
  mkdir $CG
  echo 20 > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null && res qos.hung_task_timeout 20
  mount -t debugfs none /sys/kernel/debug 2>/dev/null
  res qos.head_mm "$(head_mms | tr '\n' ' ')"
  cands=$(path_mm_candidates)
  res qos.path_mm_tried "$(echo $cands | wc -w)"
  res qos.path_disks "$(ls -d /sys/block/nvme*c*n* 2>/dev/null | wc -l) (dev files: $(ls /sys/block/nvme*c*n*/dev 2>/dev/null | wc -l))"
  if [ "$QOSMODE" = iocost ] || [ "$QOSMODE" = all ]; then
    [ -e $CGROOT/io.cost.qos ] || res qos.iocost "missing: no io.cost.qos (CONFIG_BLK_CGROUP_IOCOST)"
    # shellcheck disable=SC2046
    qos_tally qos.iocost.head $CGROOT/io.cost.qos 'enable=1 ctrl=user rpct=95 rlat=5000 wpct=95 wlat=5000 min=50 max=150' $(head_mms)
    # shellcheck disable=SC2086
    qos_tally qos.iocost.path $CGROOT/io.cost.qos 'enable=1' $cands
    # shellcheck disable=SC2086
    qos_tally qos.iocost_model.path $CGROOT/io.cost.model 'ctrl=user model=linear rbps=100000000 rseqiops=10000 rrandiops=10000 wbps=100000000 wseqiops=10000 wrandiops=10000' $cands
  fi
  if [ "$QOSMODE" = throttle ] || [ "$QOSMODE" = all ]; then
    # shellcheck disable=SC2086
    qos_tally qos.throttle.path "$CG/io.max" "wbps=${SB_WBPS:-2097152}" $cands
  fi
  # The writers (this shell's children) are charged to the group.
  echo $$ > $CG/cgroup.procs
}
# blk-throttle on the heads (and SB_WBT_LAT on the path disks), re-applied every second: a remapped
# namespace comes back as a new head (a new MAJ:MIN) and new path disks with the defaults. Counts
# applications by result.
qos_throttle_loop() {
  : > /tmp/qos.apply; : > /tmp/qos.wbt
  while [ ! -e /tmp/stop ]; do
    if [ -n "$SB_WBT_LAT" ]; then
      for _w in /sys/block/nvme*c*n*/queue/wbt_lat_usec; do
        [ "$(cat "$_w" 2>/dev/null)" = "$SB_WBT_LAT" ] || qos_try "$_w" "$SB_WBT_LAT" >> /tmp/qos.wbt
      done
    fi
    [ "$QOSMODE" = throttle ] || [ "$QOSMODE" = all ] || { sleep 1; continue; }
    for _mm in $(head_mms); do
      grep -q "^$_mm " $CG/io.max 2>/dev/null && continue
      echo "$_mm $(qos_try $CG/io.max "$_mm wbps=${SB_WBPS:-2097152} wiops=256")" >> /tmp/qos.apply
    done
    sleep 1
  done
}
# After the writers stopped and the paths are back: does the state drain? Prints findings as results.
qos_drain_report() {  # qos_drain_report TAG
  _nz=""
  for _b in /sys/block/nvme*; do
    _i=$(cat "$_b/inflight" 2>/dev/null) || continue
    [ "$(echo $_i | tr -d ' 0')" = "" ] || _nz="$_nz $(basename "$_b")=$(echo $_i | tr ' ' '/')"
  done
  res "qos.$1.inflight_nonzero" "${_nz# }"
  _nz=""
  for _w in /sys/kernel/debug/block/nvme*/rqos/wbt/inflight; do
    [ -e "$_w" ] || continue
    _v=$(awk '{ s += $3 } END { print s + 0 }' "$_w")
    [ "$_v" = 0 ] || _nz="$_nz $(echo "$_w" | cut -d/ -f6)=$_v"
  done
  res "qos.$1.wbt_inflight_nonzero" "${_nz# }"
  res "qos.$1.wbt_queues" "$(ls -d /sys/kernel/debug/block/nvme*/rqos/wbt 2>/dev/null | wc -l)"
}
d_state() {  # tasks in uninterruptible sleep, with their kernel stacks
  for _p in /proc/[0-9]*; do
    [ "$(awk '/^State:/ { print $2 }' "$_p/status" 2>/dev/null)" = D ] || continue
    echo "D $(cat "$_p/comm") $(basename "$_p"): $(tr '\n' ' ' < "$_p/stack" 2>/dev/null | cut -c1-400)"
  done
}
qos_finish() {
  res qos.ctrls_live "$(cat /sys/class/nvme/nvme*/state 2>/dev/null | grep -c '^live$')/$(ls -d /sys/class/nvme/nvme* | wc -l)"
  qos_drain_report after_stop
  sleep 10
  qos_drain_report after_drain
  res qos.d_state "$(d_state | wc -l)"
  d_state | head -n 10 | while read -r l; do vm_say "$l"; done
  res qos.io_stat_lines "$(wc -l < $CG/io.stat)"
  res qos.io_stat "$(tr '\n' '|' < $CG/io.stat)"
  res qos.io_max "$(tr '\n' '|' < $CG/io.max)"
  sed 's/^/[io.stat] /' $CG/io.stat
  [ -s /tmp/qos.wbt ] && res qos.wbt_lat_applied "$SB_WBT_LAT usec: $(sort /tmp/qos.wbt | uniq -c | awk '{ printf "%s%s:%s", (NR > 1 ? "," : ""), $2, $1 }')"
  [ -s /tmp/qos.apply ] && res qos.throttle.head_applied "$(awk '{ print $2 }' /tmp/qos.apply | sort | uniq -c | awk '{ printf "%s%s:%s", (NR > 1 ? "," : ""), $2, $1 }')"
  echo $$ > $CGROOT/cgroup.procs
  rmdir $CG 2>/tmp/rmdir.err &
  _rp=$!; _n=0
  while kill -0 $_rp 2>/dev/null && [ $_n -lt 300 ]; do usleep 100000; _n=$((_n + 1)); done
  if kill -0 $_rp 2>/dev/null; then res qos.rmdir "hung: still running after 30 s"
  elif [ -d $CG ]; then res qos.rmdir "fail: $(sed 's/.*: //' /tmp/rmdir.err)"
  else res qos.rmdir ok; fi
  res qos.hung_tasks "$(dmesg | grep -c 'blocked for more than')"
}
[ "$QOSMODE" != wbt ] && qos_setup
[ "$QOSMODE" = throttle ] || [ "$QOSMODE" = all ] || [ -n "$SB_WBT_LAT" ] && { qos_throttle_loop & }

# ---- writers: one per namespace, 1 MiB each, buffered + fsync and O_DIRECT alternating, on
# whatever head device carries the NSID now (heads vanish and come back under new names).
dd if=/dev/urandom of=/tmp/blk bs=1M count=1 2>/dev/null
writer() {
  _ns=$1; _i=0
  while [ ! -e /tmp/stop ]; do
    _h=$(vm_head_dev "$NQN" "$_ns")
    if [ -z "$_h" ]; then echo nodev >> "/tmp/w.$_ns"; usleep 100000; continue; fi
    _b=$((_i % 32))
    if [ $((_i % 2)) = 0 ]; then _o="conv=fsync,notrunc"; else _o="oflag=direct conv=notrunc"; fi
    # shellcheck disable=SC2086
    if dd if=/tmp/blk of="$_h" bs=1M seek=$_b count=1 $_o 2>"/tmp/dd.$_ns"; then echo ok >> "/tmp/w.$_ns"
    else
      _e=$(grep -m1 '^dd: ' "/tmp/dd.$_ns" | sed 's/.*: //; s/ /_/g')
      echo "err ${_e:-unknown}" >> "/tmp/w.$_ns"
      [ -e "$_h" ] && [ ! -b "$_h" ] && rm -f "$_h"
    fi
    _i=$((_i + 1))
  done
}
wpids=""
for ns in $SB_NSIDS; do : > "/tmp/w.$ns"; writer "$ns" & wpids="$wpids $!"; done
vm_signal writers "$(vm_now_ms)"
vm_wait stop "$MAX" >/dev/null || vm_say "no stop from the host after $MAX s"
touch /tmp/stop
if [ "$QOSMODE" = wbt ]; then wait
else
  # Bounded: a writer stuck in throttling after the failovers is a finding, not a hang of the run.
  n=0; left=$(echo $wpids | wc -w)
  while [ "$left" -gt 0 ] && [ $n -lt 900 ]; do
    left=0; for p in $wpids; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
    usleep 100000; n=$((n + 1))
  done
  res qos.writers_left "$left"
  res qos.writers_stop_ms "$((n * 100))"
  [ "$left" = 0 ] || d_state | while read -r l; do vm_say "$l"; done
  qos_finish
fi

ok=0; bad=0
for ns in $SB_NSIDS; do
  ok=$((ok + $(grep -c '^ok' "/tmp/w.$ns")))
  bad=$((bad + $(grep -c '^err' "/tmp/w.$ns")))
done
res write_ok "$ok"
res write_errors "$bad"
cat /tmp/w.* | grep '^err' | sort | uniq -c | while read -r c _ kind; do res "errors.$kind" "$c"; done
res no_path_lines "$(dmesg | grep -c 'no available path - failing I/O')"
res failover_lines "$(dmesg | grep -c 'failover\|requeue')"
[ "$kp" = attached ] && vm_kprobes_collect kprobe-trace.txt
dmesg | grep -iE 'nvme|block|rq_qos' | tail -n 40
problems=$(dmesg | grep -cE 'WARNING|BUG|Oops|Call Trace|general protection')
res kernel_problems "$problems"
exit 0
