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
# Share: signals "writers" (writers running) and waits for "stop"; writes kprobe-trace.txt.
# Results: kprobes (attached|missing: why), paths, write_errors, write_ok, errors.<kind>,
#   no_path_lines (kernel log "no available path - failing I/O"), kernel_problems.
. "$VM_LIB"

NQN="$SB_SUBNQN"
QOS="${SB_QOS_MASK:-0x600}"
OFF="${SB_FLAGS_OFF:-20}"
MAX="${SB_MAX_SECS:-120}"
res() { vm_result "$1" "$2"; }

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

# ---- kprobes (tracefs). Arguments: $arg1 is the first function argument (kprobe at entry);
# +OFF($arg1):u16 reads bio->bi_flags. Filters keep only bios carrying the QoS bits.
T=/sys/kernel/tracing
[ -e "$T/kprobe_events" ] || mount -t tracefs nodev "$T" 2>/dev/null
kp=missing
if [ ! -e "$T/kprobe_events" ]; then
  res kprobes "missing: no $T/kprobe_events (kernel without CONFIG_KPROBE_EVENTS or tracefs)"
else
  echo 0 > "$T/tracing_on"
  echo 16384 > "$T/buffer_size_kb" 2>/dev/null
  err=""
  echo 'p:nvmf/failover nvme_failover_req' >> "$T/kprobe_events" 2>/dev/null || err="$err nvme_failover_req"
  echo "p:nvmf/head_in nvme_ns_head_submit_bio bio=\$arg1:x64 flags=+$OFF(\$arg1):x16" >> "$T/kprobe_events" 2>/dev/null || err="$err nvme_ns_head_submit_bio"
  echo "p:nvmf/endio bio_endio bio=\$arg1:x64 flags=+$OFF(\$arg1):x16" >> "$T/kprobe_events" 2>/dev/null || err="$err bio_endio"
  if [ -n "$err" ]; then
    res kprobes "missing: could not place kprobes on:$err"
  else
    echo "flags & $QOS" > "$T/events/nvmf/head_in/filter"
    echo "flags & $QOS" > "$T/events/nvmf/endio/filter"
    echo 1 > "$T/events/nvmf/enable"
    echo 1 > "$T/tracing_on"
    kp=attached
    res kprobes "attached mask=$QOS off=$OFF"
  fi
fi

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
for ns in $SB_NSIDS; do : > "/tmp/w.$ns"; writer "$ns" & done
vm_signal writers "$(vm_now_ms)"
vm_wait stop "$MAX" >/dev/null || vm_say "no stop from the host after $MAX s"
touch /tmp/stop
wait

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
if [ "$kp" = attached ]; then
  echo 0 > "$T/tracing_on"
  awk '{ print $1, $2, $3 }' "$T/kprobe_profile" | while read -r ev hits miss; do res "kprobe_profile.$ev" "$hits/$miss"; done
  cp "$T/trace" "$VM_SHARE/kprobe-trace.txt" 2>/dev/null || vm_say "could not copy the trace"
  res trace_lines "$(grep -vc '^#' "$T/trace")"
fi
dmesg | grep -iE 'nvme|block|rq_qos' | tail -n 40
problems=$(dmesg | grep -cE 'WARNING|BUG|Oops|Call Trace|general protection')
res kernel_problems "$problems"
exit 0
