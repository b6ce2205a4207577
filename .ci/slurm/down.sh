#!/usr/bin/env bash
# Stop the daemons that up.sh started, by the PIDs it recorded (never by name).
set -u
state="${SLURM_STATE:-/tmp/prbench-slurm}"
for daemon in slurmd slurmctld munged; do
  pidfile="$state/$daemon.pid"
  [ -s "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  kill "$pid" 2>/dev/null && for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  rm -f "$pidfile"
done
