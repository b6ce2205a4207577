#!/usr/bin/env bash
# Install (Debian packages) and start a single-node SLURM on localhost for the cluster test.
# Writes the daemons' pidfiles under $SLURM_STATE (default /tmp/prbench-slurm); down.sh stops
# exactly those processes. Facts behind each setting: shared/notes/slurm-single-node.md.
set -euo pipefail
state="${SLURM_STATE:-/tmp/prbench-slurm}"
mkdir -p "$state"

if [ -s "$state/slurmctld.pid" ] && kill -0 "$(cat "$state/slurmctld.pid")" 2>/dev/null; then
  echo "SLURM already started by this script (pidfiles in $state)"
  exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

host="$(hostname -s)"
cpus="$(nproc)"
memory_mb="$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.85}' /proc/meminfo)"
mkdir -p /etc/slurm /run/munge /var/spool/slurmctld /var/log/slurm /var/spool/slurmd
chown munge:munge /run/munge
chown slurm:slurm /var/spool/slurmctld /var/log/slurm
[ -s /etc/munge/munge.key ] || mungekey -c
chown munge:munge /etc/munge/munge.key

cat > /etc/slurm/slurm.conf <<CONF
ClusterName=prbench
SlurmctldHost=${host}(127.0.0.1)
AuthType=auth/munge
CryptoType=crypto/munge
SlurmUser=slurm
SlurmdUser=root
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=600
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${memory_mb} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
cp /run/munge/munged.pid "$state/munged.pid"
/usr/sbin/slurmctld
/usr/sbin/slurmd
for _ in $(seq 60); do
  [ -s /run/slurmctld.pid ] && [ -s /run/slurmd.pid ] && break
  sleep 0.5
done
cp /run/slurmctld.pid "$state/slurmctld.pid"
cp /run/slurmd.pid "$state/slurmd.pid"
for _ in $(seq 60); do
  if [ "$(sinfo -h -o %T 2>/dev/null | head -n1)" = "idle" ]; then
    echo "SLURM is up: $(sinfo -h -o '%P %D %T %c')"
    exit 0
  fi
  sleep 1
done
echo "SLURM did not become idle; see /var/log/slurm/" >&2
exit 1
