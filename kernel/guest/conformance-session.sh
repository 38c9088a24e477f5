#!/bin/sh
# conformance-session.sh - one Linux host guest for many conformance scenarios (busybox ash),
# driven by conformance/drivers/linux-session.ts. Scenario N starts when the host writes the share
# signal "run.N" (its text: shell assignments of the CH_* variables, see conformance-host.sh); it
# runs $VM_SHARE/conformance-host.sh with CH_TAG=".N" (signals "ready.N"/"failed.N", waits for
# "stop.N"), then this loop disconnects whatever that run left connected and signals "finished.N"
# (text: the run's exit status). "quit" (or CS_IDLE_SECS without a new scenario) ends the guest.
. "$VM_LIB"
IDLE="${CS_IDLE_SECS:-600}"
n=1
vm_say "conformance session: waiting for scenarios"
while :; do
  waited=0
  while [ ! -e "$VM_SHARE/to-guest/run.$n" ] && [ ! -e "$VM_SHARE/to-guest/quit" ]; do
    usleep 100000; waited=$((waited + 1))
    [ $waited -ge $((IDLE * 10)) ] && { vm_say "no scenario for $IDLE s: ending the session"; exit 0; }
  done
  [ -e "$VM_SHARE/to-guest/run.$n" ] || break
  # The assignments come from the host: only CH_* names, each a single-quoted value.
  if grep -qvE "^CH_[A-Z_]+='[^']*'$" "$VM_SHARE/to-guest/run.$n"; then
    vm_signal "failed.$n" "bad scenario description"; vm_signal "finished.$n" 2; n=$((n + 1)); continue
  fi
  (
    set -a
    . "$VM_SHARE/to-guest/run.$n"
    set +a
    CH_TAG=".$n" sh "$VM_SHARE/conformance-host.sh"
  )
  rc=$?
  nq=$(sed -n "s/^CH_SUBNQN='\(.*\)'$/\1/p" "$VM_SHARE/to-guest/run.$n")
  [ -n "$nq" ] && timeout 90 nvme disconnect -n "$nq" >/dev/null 2>&1
  echo "@@NVMF finished $n $rc@@"
  vm_signal "finished.$n" "$rc"
  n=$((n + 1))
done
vm_say "conformance session: $((n - 1)) scenario(s), quitting"
exit 0
