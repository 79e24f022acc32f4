#!/usr/bin/env bash
# Builds and runs the real docker-compose.yml on a Docker engine of its own, and checks the whole stack
# (test/docker/smoke.mts lists the checks). Run as root from a checkout after `npm install`; `.ci/run` runs it.
#
# The engine is started with --iptables=false --ip-forward=false --bridge=none (Docker's defaults rewrite the
# host's firewall), every service runs on the host's network on spare loopback ports, and the base images are
# stand-ins built here (test/docker/standins.sh), because Docker Hub cannot be reached from CI. At the end the
# engine is stopped by its pid, what the run built is removed (the stand-ins stay cached), and the script
# fails if a daemon or container is left, or if ip_forward or the iptables rules changed.
#
#   FACEMATCH_DOCKER_CACHE   the engine's data root and the stand-ins' cache (default /var/cache/facematch-docker)
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO="$(pwd)"

[ "$(id -u)" = 0 ] || { echo "smoke: run as root (it starts its own dockerd)" >&2; exit 1; }
[ -x node_modules/.bin/tsx ] || { echo "smoke: run npm install first" >&2; exit 1; }

CACHE="${FACEMATCH_DOCKER_CACHE:-/var/cache/facematch-docker}"
RUNDIR=/run/facematch-smoke
SOCK="unix://$RUNDIR/docker.sock"
PIDFILE="$RUNDIR/dockerd.pid"
PROJECT="facematchsmoke$$"
DOCKER=/usr/bin/docker # Debian's client, the engine's own version (another on PATH may be newer than it speaks)
export DOCKER_HOST="$SOCK" DOCKER
mkdir -p "$CACHE" "$RUNDIR"

host_network_state() {
  cat /proc/sys/net/ipv4/ip_forward
  if command -v iptables-save >/dev/null; then { iptables-save; ip6tables-save; iptables -S; } 2>&1 | grep -v '^#'; fi
}

# --- tools: Debian's docker.io, docker-compose v1 and debootstrap, installed without starting any service
if ! command -v dockerd >/dev/null || ! command -v docker-compose >/dev/null || ! command -v debootstrap >/dev/null \
  || ! python3 -c 'import yaml' 2>/dev/null; then
  FORWARD_BEFORE_INSTALL="$(cat /proc/sys/net/ipv4/ip_forward)"
  echo "smoke: installing docker.io, docker-compose and debootstrap"
  policy_added=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    # Debian's packages start dockerd with its defaults on install unless policy-rc.d says no.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_added=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker.io docker-compose debootstrap iptables python3-yaml >/dev/null
  [ -n "$policy_added" ] && rm -f /usr/sbin/policy-rc.d
  [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$FORWARD_BEFORE_INSTALL" ] || { echo "smoke: installing Docker changed ip_forward" >&2; exit 1; }
fi
NETWORK_BEFORE="$(host_network_state)"

[ -e "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && { echo "smoke: a smoke dockerd is already running (pid $(cat "$PIDFILE"))" >&2; exit 1; }

WORK="$(mktemp -d /tmp/facematch-smoke.XXXXXX)" # holds the rendered compose file, which carries test secrets
chmod 700 "$WORK"
ENV_ADDED=""
DOCKERD_PID=""

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [ -n "$DOCKERD_PID" ]; then
    if [ -s "$WORK/compose.yml" ]; then
      [ "$rc" != 0 ] && docker-compose -p "$PROJECT" -f "$WORK/compose.yml" logs --no-color --tail 40 >&2 2>/dev/null
      docker-compose -p "$PROJECT" -f "$WORK/compose.yml" down -v --rmi local --remove-orphans >/dev/null 2>&1
    fi
    local left
    left="$($DOCKER ps -aq)"
    [ -n "$left" ] && $DOCKER rm -f $left >/dev/null
    $DOCKER image prune -f >/dev/null # the build's intermediate stages; the tagged stand-ins stay cached
    kill -TERM "$DOCKERD_PID"
    for _ in $(seq 1 120); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$DOCKERD_PID" 2>/dev/null; then
      echo "smoke: dockerd (pid $DOCKERD_PID) did not stop; killing it" >&2
      kill -KILL "$DOCKERD_PID"; rc=1
    fi
  fi
  [ -n "$ENV_ADDED" ] && rm -f "$REPO/.env"
  rm -rf "$WORK"
  # Nothing of the engine may be left: no dockerd, containerd or shim (their command lines name $RUNDIR).
  if pgrep -f "$RUNDIR" >/dev/null; then
    echo "smoke: processes of the smoke engine are still running:" >&2; pgrep -af "$RUNDIR" >&2; rc=1
  fi
  if [ "$(host_network_state)" != "$NETWORK_BEFORE" ]; then
    echo "smoke: the host's ip_forward or iptables changed" >&2
    diff <(echo "$NETWORK_BEFORE") <(host_network_state) >&2; rc=1
  fi
  [ "$rc" = 0 ] && echo "smoke: engine stopped, nothing left running, ip_forward and iptables as before"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the engine
echo "smoke: starting dockerd (no iptables, no ip-forward, no bridge; data in $CACHE/data)"
dockerd --iptables=false --ip6tables=false --ip-forward=false --bridge=none \
  --data-root "$CACHE/data" --exec-root "$RUNDIR/exec" --pidfile "$PIDFILE" -H "$SOCK" \
  >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 1 240); do $DOCKER version >/dev/null 2>&1 && break; kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.25; done
$DOCKER version >/dev/null 2>&1 || { echo "smoke: dockerd did not start" >&2; tail -20 "$WORK/dockerd.log" >&2; exit 1; }

# shellcheck source=test/docker/standins.sh
. test/docker/standins.sh
build_standins
export NODE_IMAGE="$STANDIN_NODE" NODE_BUILD_IMAGE="$STANDIN_NODE" REDIS_IMAGE="$STANDIN_REDIS"

# --- settings: spare loopback ports, a tenant and a webhook secret for this run only
read -r SMOKE_REDIS_PORT SMOKE_API_PORT SMOKE_METRICS_PORT < <(node -e '
  const net = require("node:net");
  const servers = [0, 1, 2].map(() => net.createServer());
  Promise.all(servers.map((s) => new Promise((r) => s.listen(0, "127.0.0.1", () => r(s.address().port)))))
    .then((ports) => { console.log(ports.join(" ")); servers.forEach((s) => s.close()); });')
rand() { node -e "process.stdout.write(require('node:crypto').randomBytes($1).toString('$2'))"; }
SMOKE_TENANT="smoke-tenant:$(rand 24 hex)"
SMOKE_WEBHOOK_SECRET="whsec_$(rand 24 base64)"
export SMOKE_REDIS_PORT SMOKE_API_PORT SMOKE_METRICS_PORT SMOKE_TENANT SMOKE_WEBHOOK_SECRET SMOKE_PROJECT="$PROJECT"
# The shell's environment beats .env in compose: these reach the containers, whatever an .env holds.
export FACEMATCH_TENANTS="$SMOKE_TENANT" FACEMATCH_WEBHOOK_SECRETS="${SMOKE_TENANT%%:*}:$SMOKE_WEBHOOK_SECRET"
export ADMIN_TOKEN="smoke-admin-$(rand 16 hex)"

# An .env in the build context, as the compose file tells users to create: the images must not take it in.
# Its values (and this run's secrets) are the strings the layer scan looks for.
if [ -e .env ]; then
  CANARIES="$(sed -n 's/^[A-Z_]*=\(.\{8,\}\)$/\1/p' .env | tr '\n' ',')"
else
  canary="canary-$(rand 12 hex)"
  printf 'FACEMATCH_TENANTS=canary-key:%s-tenant\nADMIN_TOKEN=%s-admin\n' "$canary" "$canary" >.env
  ENV_ADDED=1
  CANARIES="$canary-tenant,$canary-admin"
fi
export SMOKE_CANARIES="$CANARIES,${SMOKE_TENANT#*:},$SMOKE_WEBHOOK_SECRET,$ADMIN_TOKEN"

# --- the stack: docker-compose.yml plus the smoke override, rendered into one file. Compose v1 refuses
# `ports` on a host-network service, and an override cannot remove a list, so they are dropped here.
docker-compose -f docker-compose.yml -f test/docker/compose.smoke.yml config >"$WORK/merged.yml"
python3 - "$WORK/merged.yml" "$WORK/compose.yml" <<'EOF'
import sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
for service in config["services"].values():
    if service.get("network_mode") == "host":
        service.pop("ports", None)
yaml.safe_dump(config, open(sys.argv[2], "w"), sort_keys=False)
EOF
rm -f "$WORK/merged.yml"
export SMOKE_COMPOSE_FILE="$WORK/compose.yml"
COMPOSE=(docker-compose -p "$PROJECT" -f "$SMOKE_COMPOSE_FILE")

echo "smoke: building the api and worker-embedded images"
start=$SECONDS
"${COMPOSE[@]}" build >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log" >&2; exit 1; }
echo "smoke: built in $((SECONDS - start)) s"
"${COMPOSE[@]}" up -d >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; exit 1; }

node --import tsx test/docker/smoke.mts
