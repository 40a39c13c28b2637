#!/usr/bin/env bash
# kafka-broker against Knative's Java data plane on one Kafka, from a clean clone: fetches what the
# shared harness needs once into a cache, then runs the harness's scripts as they are (never copies).
#
# Usage: scripts/perf/side-by-side.sh [DUR=10] [CONNS=64] [ROUNDS=2]
#   1. Knative's data-plane jars: built once with $PERF_HARNESS/knative/build-knative-dp.sh into
#      $KB_PERF_CACHE/knative-dp (Maven Central only; ~5 min on idle cores).
#   2. wrk: the one on PATH, else the Debian package and its LuaJIT library fetched with
#      `apt-get download` into $KB_PERF_CACHE/wrk and unpacked there (no root, nothing installed).
#   3. Kafka: $KAFKA_BOOTSTRAP_SERVERS, or `npm run kafka` started here and stopped at the end.
#   4. $PERF_HARNESS/side-by-side.sh DUR CONNS ROUNDS, then e2e-latency.mjs E2E_RATE E2E_SECONDS on
#      Kafka and in memory. The harness reads one pid of ours (with --ingress-workers 2+, an ingress
#      worker); after each of our rows all-processes.py prints RSS and CPU per event summed over all
#      of our processes.
#
# Settings (environment):
#   PERF_HARNESS      the harness folder (default /work/shared/perf)
#   KB_PERF_CACHE     jars, wrk, Knative's git dir (default ${XDG_CACHE_HOME:-~/.cache}/kafka-broker-perf)
#   KNATIVE_GIT_DIR   a git dir of knative-extensions/eventing-kafka-broker (default: a blobless
#                     bare clone from GitHub into the cache, made once)
#   KNATIVE_REF       commit to build (default HEAD of that git dir)
#   KAFKA_PID         pid of Kafka's JVM, for Kafka's CPU per event (default: found by its port)
#   E2E_RATE, E2E_SECONDS   latency run (default 1000 ev/s for 30 s); E2E_SECONDS=0 skips it
set -euo pipefail

die() { echo "side-by-side: $*" >&2; exit 1; }
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
harness=${PERF_HARNESS:-/work/shared/perf}
cache=${KB_PERF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kafka-broker-perf}
dur=${1:-10}; conns=${2:-64}; rounds=${3:-2}
e2e_rate=${E2E_RATE:-1000}; e2e_seconds=${E2E_SECONDS:-30}

[[ -x $harness/side-by-side.sh && -f $harness/e2e-latency.mjs ]] || die "no harness in $harness (set PERF_HARNESS)"
[[ -d $repo/node_modules ]] || die "no node_modules in $repo: run npm install first"
for n in "$dur" "$conns" "$rounds" "$e2e_rate" "$e2e_seconds"; do
  [[ $n =~ ^[0-9]+$ ]] || die "'$n' is not a whole number (usage: side-by-side.sh [DUR] [CONNS] [ROUNDS])"
done
for tool in curl bc python3 setsid pgrep git; do command -v "$tool" >/dev/null || die "$tool is not on PATH"; done
mkdir -p "$cache"

# 1. Knative's jars, once. A finished build leaves SOURCE beside the jars.
export KNATIVE_DP_DIR=$cache/knative-dp
if [[ ! -f $KNATIVE_DP_DIR/SOURCE || ! -f $KNATIVE_DP_DIR/receiver.jar || ! -f $KNATIVE_DP_DIR/dispatcher.jar ]]; then
  if [[ -z ${KNATIVE_GIT_DIR:-} ]]; then
    KNATIVE_GIT_DIR=$cache/eventing-kafka-broker.git
    if [[ ! -d $KNATIVE_GIT_DIR ]]; then
      echo "cloning knative-extensions/eventing-kafka-broker into $KNATIVE_GIT_DIR"
      git clone --quiet --bare --filter=blob:none https://github.com/knative-extensions/eventing-kafka-broker.git \
        "$KNATIVE_GIT_DIR.tmp" || die "cannot clone eventing-kafka-broker: set KNATIVE_GIT_DIR to a local git dir of it"
      mv "$KNATIVE_GIT_DIR.tmp" "$KNATIVE_GIT_DIR"
    fi
  fi
  echo "building Knative's data plane into $KNATIVE_DP_DIR (log: $cache/knative-build.log)"
  KNATIVE_GIT_DIR=$KNATIVE_GIT_DIR "$harness/knative/build-knative-dp.sh" >"$cache/knative-build.log" 2>&1 \
    || die "the Knative build failed; see $cache/knative-build.log"
fi
echo "Knative data plane: $(head -1 "$KNATIVE_DP_DIR/SOURCE")"

# 2. wrk. The unpacked binary gets a wrapper that points only wrk at the unpacked LuaJIT.
if ! command -v wrk >/dev/null; then
  wrk_dir=$cache/wrk
  if [[ ! -x $wrk_dir/bin/wrk ]]; then
    command -v apt-get >/dev/null && command -v dpkg >/dev/null || die "no wrk on PATH and no apt-get/dpkg to fetch it"
    # The LuaJIT package wrk depends on (the first of its alternatives), by name from apt's own metadata.
    luajit=$(apt-cache depends wrk 2>/dev/null | awk '/Depends: libluajit/{sub(/^.*Depends: /,""); print; exit}')
    [[ -n $luajit ]] || die "apt knows no package wrk (try apt-get update, or put wrk on PATH)"
    rm -rf "$wrk_dir.tmp" && mkdir -p "$wrk_dir.tmp/debs"
    (cd "$wrk_dir.tmp/debs" && apt-get download -q wrk "$luajit" >/dev/null 2>&1) || die "apt-get download wrk $luajit failed"
    for deb in "$wrk_dir.tmp"/debs/*.deb; do dpkg -x "$deb" "$wrk_dir.tmp/root"; done
    mkdir -p "$wrk_dir.tmp/bin"
    cat >"$wrk_dir.tmp/bin/wrk" <<'WRAP'
#!/bin/sh
root=$(dirname "$(readlink -f "$0")")/../root
LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$root/usr/bin/wrk" "$@"
WRAP
    chmod +x "$wrk_dir.tmp/bin/wrk"
    rm -rf "$wrk_dir" && mv "$wrk_dir.tmp" "$wrk_dir"
  fi
  wrk_version=$("$wrk_dir/bin/wrk" -v 2>&1 || true) # wrk -v exits 1 after its usage text
  [[ $wrk_version == wrk* ]] || die "$wrk_dir/bin/wrk does not run: ${wrk_version%%$'\n'*}"
  export PATH="$wrk_dir/bin:$PATH"
fi
wrk_version=$(wrk -v 2>&1 || true)
echo "wrk: $(command -v wrk) ($(cut -d' ' -f1-2 <<<"${wrk_version%%$'\n'*}"))"

# 3. Kafka.
kafka_job=""
cleanup() { [[ -n $kafka_job ]] && kill -TERM -- "-$kafka_job" 2>/dev/null && wait "$kafka_job" 2>/dev/null; true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
if [[ -z ${KAFKA_BOOTSTRAP_SERVERS:-} ]]; then
  echo "starting Kafka with npm run kafka (log: $cache/kafka.log)"
  (cd "$repo" && exec setsid npm run --silent kafka) >"$cache/kafka.log" 2>&1 &
  kafka_job=$!
  for _ in $(seq 1 600); do
    KAFKA_BOOTSTRAP_SERVERS=$(sed -n 's/^KAFKA_BOOTSTRAP_SERVERS=//p' "$cache/kafka.log" | head -1)
    [[ -n $KAFKA_BOOTSTRAP_SERVERS ]] && break
    kill -0 "$kafka_job" 2>/dev/null || die "npm run kafka exited: $(tail -1 "$cache/kafka.log")"
    sleep 1
  done
  [[ -n $KAFKA_BOOTSTRAP_SERVERS ]] || die "Kafka did not start in 10 minutes; see $cache/kafka.log"
fi
export KAFKA_BOOTSTRAP_SERVERS
if [[ -z ${KAFKA_PID:-} ]] && command -v ss >/dev/null; then
  port=${KAFKA_BOOTSTRAP_SERVERS##*:}; port=${port%%,*}
  KAFKA_PID=$(ss -ltnpH "sport = :$port" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
fi
export KAFKA_PID=${KAFKA_PID:-}
echo "Kafka: $KAFKA_BOOTSTRAP_SERVERS${KAFKA_PID:+ (pid $KAFKA_PID)}; kafka-broker: $repo ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'))"

# 4. The harness.
export KB_REPO=$repo
echo "== side-by-side.sh $dur $conns $rounds"
# The harness measures one process of ours; all-processes.py adds each round's figures for all of them.
"$harness/side-by-side.sh" "$dur" "$conns" "$rounds" | python3 "$repo/scripts/perf/all-processes.py"
if (( e2e_seconds > 0 )); then
  # e2e-latency.mjs always uses Broker bench/default and Trigger bench/all, so two runs on one Kafka
  # share a topic and a consumer group and receive each other's events (seen as lost and duplicates).
  if pgrep -f 'start --manifests [^ ]*kb-e2e-' >/dev/null; then
    echo "warning: another e2e-latency.mjs is running; on the same Kafka its events mix with these" >&2
  fi
  echo "== e2e-latency.mjs $e2e_rate $e2e_seconds on Kafka"
  node "$harness/e2e-latency.mjs" "$e2e_rate" "$e2e_seconds" | tail -2 || true
  echo "== e2e-latency.mjs $e2e_rate $e2e_seconds in memory"
  env -u KAFKA_BOOTSTRAP_SERVERS node "$harness/e2e-latency.mjs" "$e2e_rate" "$e2e_seconds" | tail -2 || true
fi
