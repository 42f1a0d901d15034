#!/usr/bin/env bash
# A single-node Slurm cluster on this host, for tests: munged, slurmctld and slurmd with their key,
# configuration, state, spool and logs under DIR.
#
#   scripts/slurm-cluster.sh start DIR   # prints "SLURM_CONF=DIR/slurm.conf" once the node is idle
#   scripts/slurm-cluster.sh stop DIR    # stops the three daemons
#
# Needs the Debian packages slurm-wlm and munge. Clients then need SLURM_CONF=DIR/slurm.conf.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin" # the daemons live in sbin

cmd=${1:-}
dir=${2:-}
if [[ -z $cmd || -z $dir ]]; then
	echo "usage: $0 start|stop DIR" >&2
	exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# stop_pid waits for the process of a pid file to exit (TERM, then KILL after 10 s).
stop_pid() {
	local f=$1 pid
	[[ -s $f ]] || return 0
	pid=$(cat "$f")
	kill -TERM "$pid" 2>/dev/null || { rm -f "$f"; return 0; }
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || { rm -f "$f"; return 0; }
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$f"
}

stop() {
	stop_pid "$dir/slurmd.pid"
	stop_pid "$dir/slurmctld.pid"
	stop_pid "$dir/munge/munged.pid"
}

# free_port prints a TCP port nothing listens on.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 30000))
		# A connection that fails means nothing listens there.
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

start() {
	for b in munged mungekey slurmctld slurmd sinfo; do
		command -v "$b" >/dev/null || { echo "$0: $b is not installed (Debian packages munge and slurm-wlm)" >&2; exit 3; }
	done
	stop
	mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
	chmod 700 "$dir/munge"
	if [[ ! -s $dir/munge/munge.key ]]; then
		mungekey --create --keyfile="$dir/munge/munge.key" --force
	fi
	chmod 400 "$dir/munge/munge.key"
	local sock=$dir/munge/munge.socket
	munged --force --socket="$sock" --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
		--log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed"

	local host user node ctld_port slurmd_port
	host=$(hostname -s)
	user=$(id -un)
	# This host as slurmd sees it: NodeName=<host> CPUs=... RealMemory=...
	node=$(slurmd -C | head -n 1)
	ctld_port=$(free_port)
	slurmd_port=$(free_port)
	while [[ $slurmd_port == "$ctld_port" ]]; do slurmd_port=$(free_port); done
	cat >"$dir/slurm.conf" <<EOF
ClusterName=vistudy-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$user
SlurmdUser=$user
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
PlugStackConfig=$dir/plugstack.conf
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
	: >"$dir/plugstack.conf"
	export SLURM_CONF=$dir/slurm.conf
	slurmctld -f "$SLURM_CONF"
	slurmd -f "$SLURM_CONF"
	for _ in $(seq 150); do
		if sinfo --noheader --format=%t 2>/dev/null | grep -qx idle; then
			echo "SLURM_CONF=$SLURM_CONF"
			return 0
		fi
		sleep 0.2
	done
	echo "$0: the node did not become idle in 30 s; logs:" >&2
	tail -n 20 "$dir"/log/*.log >&2 || true
	stop
	exit 1
}

case $cmd in
start) start ;;
stop) stop ;;
*)
	echo "usage: $0 start|stop DIR" >&2
	exit 2
	;;
esac
