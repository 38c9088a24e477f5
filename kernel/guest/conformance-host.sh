#!/bin/sh
# conformance-host.sh - the Linux kernel NVMe/TCP host as an initiator under test of
# `nvmf-fault conformance` (driven by conformance/drivers/linux-qemu.ts; busybox ash).
# Connects every path of one subsystem on this machine (native multipath), runs the workload on
# every namespace, prints its counters on the console about once a second, and disconnects when
# the host says "stop" (or when it waited CH_HOLD_SECS for that).
#
# Environment:
#   CH_SUBNQN        subsystem NQN
#   CH_PORTS         target TCP ports on the host, "P1 P2 ..." (one path each)
#   CH_NSIDS         "all" (every namespace the subsystem shows) or "1 3"
#   CH_RW            write | read | verify | randrw (verify and randrw read every block back and compare)
#   CH_BS            bytes per I/O (a multiple of 512)
#   CH_QD            writers per namespace (each on its own blocks)
#   CH_SECONDS       how long the workload runs after "ready"
#   CH_HOLD_SECS     after the workload, how long to wait for the host's "stop" before disconnecting
#   CH_BLOCKS        blocks of CH_BS in /host/pattern0.bin and /host/pattern1.bin (the region written)
#   CH_CONNECT_OPTS  extra `nvme connect` options
#   CH_HOSTNQN, CH_HOSTID  host identity for this connect (default: the guest's /etc/nvme ones)
#   CH_TAG           suffix of the share signals and files of this run (a session guest runs one
#                    scenario after another, conformance-session.sh): "ready$CH_TAG", "stop$CH_TAG",
#                    patterns in $VM_SHARE/p$CH_TAG/; empty for a one-scenario guest
# Console lines the driver parses (conformance/drivers/linux-console.ts):
#   @@NVMF path PORT CTRL@@              controller CTRL is the path through PORT
#   @@NVMF connect-failed PORT TEXT@@
#   @@NVMF io NSID OPS BYTES ERRORS@@     cumulative per namespace
#   @@NVMF error NSID TEXT@@             an I/O error or a data mismatch the application saw
# Share signals: "ready" (every path connected and the heads are there; text: the NSIDs), "failed".
. "$VM_LIB"
TAG="${CH_TAG:-}"
PAT="$VM_SHARE/p$TAG"
[ -n "$TAG" ] || PAT=/host
ID_OPTS=""
[ -n "${CH_HOSTNQN:-}" ] && ID_OPTS="--hostnqn=$CH_HOSTNQN"
[ -n "${CH_HOSTID:-}" ] && ID_OPTS="$ID_OPTS --hostid=$CH_HOSTID"
# A previous scenario of a session guest left its stop mark and counters behind.
rm -f /tmp/stop /tmp/ops.* /tmp/err.* /tmp/got.* /tmp/exp.* /tmp/dd.*

NQN="$CH_SUBNQN"
RW="${CH_RW:-verify}"
BS="${CH_BS:-4096}"
QD="${CH_QD:-1}"
SECS="${CH_SECONDS:-20}"
HOLD="${CH_HOLD_SECS:-300}"
BLOCKS="${CH_BLOCKS:-2048}"
OPTS="${CH_CONNECT_OPTS:---ctrl-loss-tmo=60 --reconnect-delay=1}"
res() { vm_result "$1" "$2"; }

# Hung tasks show up within a run (the default is 120 s).
[ -w /proc/sys/kernel/hung_task_timeout_secs ] && echo 60 > /proc/sys/kernel/hung_task_timeout_secs

bad=0
for p in $CH_PORTS; do
  # shellcheck disable=SC2086
  if out=$(timeout 90 nvme connect -t tcp -a "$VM_HOST_IP" -s "$p" -n "$NQN" $OPTS $ID_OPTS 2>&1); then
    c=$(vm_ctrl_for_port "$p" "$NQN") && echo "@@NVMF path $p $c@@"
  else
    echo "@@NVMF connect-failed $p $(echo "$out" | tr '\n' ' ')@@"; bad=$((bad + 1))
  fi
done
if [ $bad -gt 0 ]; then vm_signal "failed$TAG" "$bad of the paths did not connect"; exit 1; fi

all_nsids() {
  for _s in /sys/class/nvme-subsystem/nvme-subsys*; do
    [ "$(cat "$_s/subsysnqn" 2>/dev/null)" = "$NQN" ] || continue
    for _h in "$_s"/nvme*n*; do [ -e "$_h/nsid" ] && cat "$_h/nsid"; done
  done | sort -n | uniq | tr '\n' ' '
}
if [ "$CH_NSIDS" = all ]; then
  vm_until 30 test -n "$(all_nsids)"
  sleep 1
  NSIDS=$(all_nsids)
else
  NSIDS="$CH_NSIDS"
fi
heads_ready() { for _n in $NSIDS; do vm_head_dev "$NQN" "$_n" >/dev/null || return 1; done; }
if [ -z "$NSIDS" ] || ! vm_until 30 heads_ready; then
  vm_signal "failed$TAG" "no head device for namespaces '${NSIDS:-none}'"
  dmesg | grep -i nvme | tail -n 30
  exit 1
fi
cp "$PAT/pattern0.bin" /tmp/p0 && cp "$PAT/pattern1.bin" /tmp/p1 || { vm_signal "failed$TAG" "no pattern files"; exit 1; }

# writer NSID K: I/O on blocks K, K+QD, ... of the region (writers never share a block). Each dd is
# one application I/O of BS bytes with O_DIRECT; each completed one adds a byte to /tmp/ops.NSID.K
# (`printf` is a shell builtin: no fork), each failed one or mismatch a byte to /tmp/err.NSID.K.
writer() {
  _ns=$1; _k=$2; _j=0; _nerr=0
  _h=$(vm_head_dev "$NQN" "$_ns")
  _sz=$(cat "/sys/block/$(basename "${_h:-none}")/size" 2>/dev/null) || _sz=0
  _nb=$(( ${_sz:-0} * 512 / BS ))
  [ "$_nb" -gt "$BLOCKS" ] && _nb=$BLOCKS
  _per=$(( _nb / QD ))
  [ "$_per" -ge 1 ] || { echo "@@NVMF error $_ns namespace smaller than $QD blocks@@"; printf x >> "/tmp/err.$_ns.$_k"; return; }
  while [ ! -e /tmp/stop ]; do
    if [ "$RW" = randrw ]; then _b=$(( _k + QD * ((_j * 7919 + _k * 104729) % _per) )); else _b=$(( _k + QD * (_j % _per) )); fi
    _g=$(( (_j / _per) % 2 ))
    _what=""
    if [ ! -b "$_h" ]; then
      _what="no block device $_h"
    elif [ "$RW" = read ]; then
      if dd if="$_h" of=/dev/null bs="$BS" skip=$_b count=1 iflag=direct 2>"/tmp/dd.$_ns.$_k"; then printf x >> "/tmp/ops.$_ns.$_k"
      else _what="read block $_b: $(tail -n1 "/tmp/dd.$_ns.$_k")"; fi
    else
      if dd if="/tmp/p$_g" of="$_h" bs="$BS" skip=$_b seek=$_b count=1 oflag=direct conv=notrunc 2>"/tmp/dd.$_ns.$_k"; then
        printf x >> "/tmp/ops.$_ns.$_k"
        if [ "$RW" = verify ] || [ "$RW" = randrw ]; then
          if dd if="$_h" of="/tmp/got.$_ns.$_k" bs="$BS" skip=$_b count=1 iflag=direct 2>"/tmp/dd.$_ns.$_k"; then
            printf x >> "/tmp/ops.$_ns.$_k"
            dd if="/tmp/p$_g" of="/tmp/exp.$_ns.$_k" bs="$BS" skip=$_b count=1 2>/dev/null
            cmp -s "/tmp/exp.$_ns.$_k" "/tmp/got.$_ns.$_k" || _what="mismatch block $_b generation $_g"
          else
            _what="read block $_b: $(tail -n1 "/tmp/dd.$_ns.$_k")"
          fi
        fi
      else
        _what="write block $_b: $(tail -n1 "/tmp/dd.$_ns.$_k")"
      fi
    fi
    if [ -n "$_what" ]; then
      printf x >> "/tmp/err.$_ns.$_k"
      _nerr=$((_nerr + 1))
      # The first 20 errors of a writer, then every 50th: enough to see what happened.
      if [ $_nerr -le 20 ] || [ $((_nerr % 50)) = 0 ]; then echo "@@NVMF error $_ns $_what (error $_nerr of writer $_k)@@"; fi
      # dd may have created a regular file where the head's node was (the head went away).
      [ -e "$_h" ] && [ ! -b "$_h" ] && rm -f "$_h"
      _h=$(vm_head_dev "$NQN" "$_ns") || _h="/dev/missing-nsid-$_ns"
      usleep 100000
    fi
    _j=$((_j + 1))
  done
}

size() { wc -c < "$1" 2>/dev/null || echo 0; }
report() {
  for _n in $NSIDS; do
    _o=0; _e=0
    for _k in $(seq 0 $((QD - 1))); do _o=$((_o + $(size "/tmp/ops.$_n.$_k"))); _e=$((_e + $(size "/tmp/err.$_n.$_k"))); done
    echo "@@NVMF io $_n $_o $((_o * BS)) $_e@@"
  done
}

pids=""
for ns in $NSIDS; do
  for k in $(seq 0 $((QD - 1))); do : > "/tmp/ops.$ns.$k"; : > "/tmp/err.$ns.$k"; writer "$ns" "$k" & pids="$pids $!"; done
done
vm_signal "ready$TAG" "$NSIDS"
vm_say "workload $RW bs=$BS qd=$QD on namespaces $NSIDS for $SECS s"
now=$(vm_now_ms); end=$((now + SECS * 1000)); hold_end=$((end + HOLD * 1000))
while :; do
  sleep 1
  report
  now=$(vm_now_ms)
  [ -e "$VM_SHARE/to-guest/stop$TAG" ] && break
  if [ "$now" -ge "$end" ] && [ ! -e /tmp/stop ]; then touch /tmp/stop; vm_say "workload time is up"; fi
  [ "$now" -ge "$hold_end" ] && { vm_say "no stop from the host after $HOLD s"; break; }
done
touch /tmp/stop
# A writer stuck in the kernel (queued I/O without a path) cannot be waited for forever.
n=0
while [ $n -lt 60 ]; do
  alive=0; for p in $pids; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
  [ $alive = 0 ] && break
  sleep 1; n=$((n + 1))
done
[ $alive -gt 0 ] && vm_say "$alive writers still in the kernel after 60 s"
report
res writers_stuck "$alive"
# A controller reconnecting when the disconnect comes is deleted only after its reconnect attempt
# ends: an unanswered Connect lasts the admin timeout (nvme_core.admin_timeout, 60 s by default).
out=$(timeout 90 nvme disconnect -n "$NQN" 2>&1) && res disconnect ok || res disconnect "fail: $(echo "$out" | tr '\n' ' ')"
vm_say "nvme disconnect: $out"
res kernel_problems "$(dmesg | grep -cE 'WARNING|BUG|Oops|Call Trace|general protection|blocked for more than')"
exit 0
