#!/usr/bin/env bash
# Starts a local Redis Cluster of 3 masters (no replicas, nothing saved) unless one already answers.
#   .ci/redis-cluster.sh [first-port]        # default 7001: masters on 7001, 7002, 7003
#   .ci/redis-cluster.sh stop [first-port]   # shuts those three down
# Used by .ci/run and, when nothing answers on 7001, by the cluster tests' setup
# (test/helpers/redis-cluster.ts). Node configs live in /tmp/express-sms-2fa-cluster-<port>.conf.
set -euo pipefail
if [ "${1:-}" = stop ]; then
  first=${2:-7001}
  for port in "$first" $((first + 1)) $((first + 2)); do
    redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    rm -f "/tmp/express-sms-2fa-cluster-$port.conf"
  done
  exit 0
fi
first=${1:-7001}
ports=("$first" $((first + 1)) $((first + 2)))

state() { redis-cli -h 127.0.0.1 -p "$first" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p'; }
if [ "$(state)" = ok ]; then
  echo "redis cluster: already up on ${ports[*]}"
  exit 0
fi

for port in "${ports[@]}"; do
  if ! redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then
    rm -f "/tmp/express-sms-2fa-cluster-$port.conf"
    redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file "/tmp/express-sms-2fa-cluster-$port.conf" --cluster-node-timeout 2000 \
      --save '' --appendonly no --dir /tmp --daemonize yes \
      --maxmemory-policy noeviction --logfile "/tmp/express-sms-2fa-cluster-$port.log"
  fi
done
for port in "${ports[@]}"; do
  for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
done

# A node that knows no slots yet: create the cluster (a node left from an earlier run keeps its config).
if [ "$(redis-cli -h 127.0.0.1 -p "$first" cluster info | tr -d '\r' | sed -n 's/^cluster_slots_assigned://p')" = 0 ]; then
  redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >/dev/null
fi
for _ in $(seq 1 100); do
  [ "$(state)" = ok ] && { echo "redis cluster: up on ${ports[*]}"; exit 0; }
  sleep 0.1
done
echo "redis cluster: cluster_state is not ok on ${ports[*]}" >&2
redis-cli -h 127.0.0.1 -p "$first" cluster info >&2 || true
exit 1
