#!/bin/sh
# guest-nvmetcli.sh - nvmetcli against the kernel target (nvmet) in the interop guest; busybox ash.
# Driven by test/interop/nvmetcli-kernel.test.ts. /host/py holds a python3 with its standard library
# and nvmetcli's `nvmet` package (brought by the test; nothing of nvmetcli is in this repository).
#   1. configures nvmet through configfs with every field nvmetcli's saveconfig writes (two TCP
#      ports with ANA groups and a referral, two subsystems with attributes, namespaces with
#      uuid/nguid/ana_grpid/enable, hosts and allowed_hosts), then nvmetcli saves it: /host/saved.json
#   2. clears nvmet, restores /host/ours.json (nvmf-fault's `config export --format nvmetcli`) with
#      nvmetcli, saves that again: /host/ours-resaved.json, nvmetcli's errors in /host/restore-errors.json
. "$VM_LIB"

fail() { vm_say "FAILED: $*"; exit 1; }
PY() { PYTHONHOME=/host/py PYTHONPATH=/host/py/site PYTHONDONTWRITEBYTECODE=1 /host/py/lib/ld-linux-x86-64.so.2 --library-path /host/py/lib /host/py/bin/python3 "$@"; }

PY -c 'import sys, nvmet; print("python", sys.version.split()[0], "nvmet from", nvmet.__file__)' || fail "python3 with nvmetcli's nvmet package does not run"
[ -d "$NVMET" ] || fail "no $NVMET"

S1=blktests-subsystem-1
S2=fixture-subsys-2
H1=fixture-host-a
H2=nqn.2014-08.org.nvmexpress:uuid:5a1c0c3e-7b7e-4c2a-9f0d-3d2b9c1e8a11
dd if=/dev/zero of=/tmp/ns1.img bs=1M count=0 seek=8 2>/dev/null || fail "backing file 1"
dd if=/dev/zero of=/tmp/ns2.img bs=1M count=0 seek=4 2>/dev/null || fail "backing file 2"

mkdir "$NVMET/hosts/$H1" "$NVMET/hosts/$H2" || fail "hosts"
nvmet_subsys "$S1" f1x7ure0001 "fixture model" || fail "subsystem $S1"
echo 1.3 > "$NVMET/subsystems/$S1/attr_version"
nvmet_ns "$S1" 1 /tmp/ns1.img 1 buffered || fail "ns 1"
# nvmet takes a new UUID only while the namespace is disabled.
echo 0 > "$NVMET/subsystems/$S1/namespaces/1/enable"
echo 3f0e9a52-8c1d-4b6e-a7f2-61c4d8e9b035 > "$NVMET/subsystems/$S1/namespaces/1/device_uuid" || fail "ns 1 uuid"
echo 1 > "$NVMET/subsystems/$S1/namespaces/1/enable" || fail "ns 1 enable"
mkdir "$NVMET/subsystems/$S1/namespaces/2" || fail "ns 2"
printf '%s' /tmp/ns2.img > "$NVMET/subsystems/$S1/namespaces/2/device_path"
echo 1 > "$NVMET/subsystems/$S1/namespaces/2/buffered_io"
echo a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90 > "$NVMET/subsystems/$S1/namespaces/2/device_nguid" || fail "ns 2 nguid"
echo 2 > "$NVMET/subsystems/$S1/namespaces/2/ana_grpid" || fail "ns 2 group"
mkdir "$NVMET/subsystems/$S2" || fail "subsystem $S2"
echo f1x7ure0002 > "$NVMET/subsystems/$S2/attr_serial"
ln -s "$NVMET/hosts/$H1" "$NVMET/subsystems/$S2/allowed_hosts/$H1" || fail "allowed host"

nvmet_port 1 4420 127.0.0.1
nvmet_ana 1 2 non-optimized || fail "port 1 group 2"
mkdir "$NVMET/ports/1/referrals/peer-discovery" || fail "referral"
R="$NVMET/ports/1/referrals/peer-discovery"
echo tcp > "$R/addr_trtype"; echo ipv4 > "$R/addr_adrfam"; echo 127.0.0.2 > "$R/addr_traddr"; echo 8009 > "$R/addr_trsvcid"
[ -e "$R/addr_portid" ] && echo 7 > "$R/addr_portid"
echo 1 > "$R/enable" || fail "referral enable"
nvmet_link 1 "$S1" && nvmet_link 1 "$S2" || fail "links on port 1"
nvmet_port 2 4421 127.0.0.1
nvmet_ana 2 1 inaccessible || fail "port 2 group 1"
nvmet_link 2 "$S1" || fail "link on port 2"

PY -c 'import nvmet; nvmet.Root().save_to_file("/host/saved.json")' || fail "nvmetcli saveconfig"
vm_say "saved: $(wc -c < /host/saved.json) bytes"

# 2. nvmf-fault's export, restored by nvmetcli on the kernel target.
if [ -f /host/ours.json ]; then
  # nvmetcli cannot restore buffered_io (no device_ prefix in configfs), and tmpfs has no O_DIRECT:
  # the export's file paths become links to null_blk devices, which nvmet opens as block devices.
  n=0; for f in $(cat /host/ours-files.txt 2>/dev/null); do n=$((n + 1)); done
  modprobe null_blk nr_devices="$n" gb=1 || fail "modprobe null_blk"
  i=0; for f in $(cat /host/ours-files.txt 2>/dev/null); do ln -sf "/dev/nullb$i" "$f"; i=$((i + 1)); done
  PY - <<'PYEOF' || fail "nvmetcli restore of nvmf-fault's export"
import json, nvmet
root = nvmet.Root()
errors = root.restore_from_file('/host/ours.json', clear_existing=True)
json.dump(errors, open('/host/restore-errors.json', 'w'))
root.save_to_file('/host/ours-resaved.json')
print('restore errors:', errors)
PYEOF
fi
PY -c 'import nvmet; nvmet.Root().clear_existing()' || fail "nvmetcli clear"
vm_kernel_problems || fail "the kernel log shows a problem"
exit 0
