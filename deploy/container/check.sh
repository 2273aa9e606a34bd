#!/usr/bin/env bash
# Build the chatkeeper image offline and run it against the embedded S3 and PostgreSQL.
#
#   deploy/container/check.sh            (from the repository root; root needed for podman)
#
# Steps, each reported as RAN, SKIPPED (with the reason) or FAILED:
#   1. tools      podman with runc, ulimits off (crun fails on resource limits here)
#   2. base       Debian 12 root filesystem by debootstrap (cached in .cache/container/),
#                 imported with `podman import`; no image registry is needed
#   3. wheels     `pip wheel` of chatkeeper and its dependencies on the host
#   4. build      multi-stage build with --network=none
#   5. run        the image serving against SeaweedFS and PostgreSQL on loopback:
#                 /healthz, the image HEALTHCHECK, one signed Slack delivery journaled,
#                 a sealed bundle that verifies (deploy/container/run_check.py)
# Not part of `make test` (slow, needs root and Debian's mirror the first time).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT="$(pwd)"
CACHE="${CHATKEEPER_CONTAINER_CACHE:-$ROOT/.cache/container}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
SUITE=bookworm
# DEBIAN_MIRROR: a mirror URL for debootstrap; unset, debootstrap uses its own default.
MIRROR="${DEBIAN_MIRROR:-}"
IMAGE=localhost/chatkeeper:check
mkdir -p "$CACHE"
declare -a SUMMARY=()
status=0

report() { # step state reason
  echo "== $1: $2${3:+ ($3)}"
  SUMMARY+=("$1: $2${3:+ ($3)}")
  if [ "$2" = FAILED ]; then status=1; fi
}
finish() {
  echo
  echo "container check summary:"
  printf '  %s\n' "${SUMMARY[@]}"
  exit "$status"
}

# 1. tools -----------------------------------------------------------------
if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
  report tools SKIPPED "podman or runc missing: make container-deps installs Debian's"
  report base SKIPPED "no podman"; report wheels SKIPPED "no podman"
  report build SKIPPED "no podman"; report run SKIPPED "no podman"
  finish
fi
if [ "$(id -u)" != 0 ]; then
  report tools SKIPPED "needs root (rootful podman)"; finish
fi
cat > "$CACHE/containers.conf" <<CONF
[containers]
default_ulimits = []
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$CACHE/containers.conf"
report tools RAN "$(podman --version), $(runc --version | head -n1), ulimits none"

# 2. base image ------------------------------------------------------------
ROOTFS="$CACHE/rootfs-$SUITE"
if [ ! -x "$ROOTFS/usr/bin/python3" ]; then
  if ! command -v debootstrap >/dev/null; then
    report base SKIPPED "debootstrap missing"; report wheels SKIPPED "no base"
    report build SKIPPED "no base"; report run SKIPPED "no base"; finish
  fi
  echo "debootstrap $SUITE from ${MIRROR:-the default mirror} into $ROOTFS (minutes) ..."
  rm -rf "$ROOTFS.tmp"
  if debootstrap --variant=minbase --include=python3,ca-certificates,tzdata \
       "$SUITE" "$ROOTFS.tmp" ${MIRROR:+"$MIRROR"} > "$CACHE/debootstrap.log" 2>&1; then
    mv "$ROOTFS.tmp" "$ROOTFS"
  else
    report base FAILED "debootstrap failed, see $CACHE/debootstrap.log"; finish
  fi
fi
STAMP="$(stat -c %Y "$ROOTFS/var/lib/dpkg/status")"
BASE_TAG="localhost/chatkeeper-base:$SUITE-$STAMP"
if ! podman image exists "$BASE_TAG"; then
  tar -C "$ROOTFS" --exclude=./var/cache/apt/archives --exclude=./var/lib/apt/lists \
      --exclude=./proc --exclude=./sys --exclude=./dev -cf - . \
    | podman import --change 'CMD ["/bin/sh"]' - "$BASE_TAG" >/dev/null \
    || { report base FAILED "podman import"; finish; }
fi
BASE_ID="$(podman image inspect --format '{{.Id}}' "$BASE_TAG")"
report base RAN "$BASE_TAG, image id ${BASE_ID:0:12}, python $(chroot "$ROOTFS" python3 -c 'import sys; print(sys.version.split()[0])')"

# 3. wheels ----------------------------------------------------------------
CONTEXT="$CACHE/context"
rm -rf "$CONTEXT" && mkdir -p "$CONTEXT/wheels"
cp deploy/container/Dockerfile deploy/container/healthcheck.py "$CONTEXT/"
if "$PY" -m pip wheel --quiet --wheel-dir "$CONTEXT/wheels" . pip > "$CACHE/wheels.log" 2>&1; then
  report wheels RAN "$(ls "$CONTEXT/wheels" | wc -l) wheels"
else
  report wheels FAILED "pip wheel, see $CACHE/wheels.log"; finish
fi

# 4. build (no network) ----------------------------------------------------
if podman build --network=none --pull=never --format docker \
     --build-arg "BASE_IMAGE=$BASE_ID" -t "$IMAGE" "$CONTEXT" > "$CACHE/build.log" 2>&1; then
  size="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
  report build RAN "$IMAGE from base ${BASE_ID:0:12}, --network=none, $((size / 1048576)) MiB"
else
  tail -n 20 "$CACHE/build.log"
  report build FAILED "podman build, see $CACHE/build.log"; finish
fi
if podman run --rm --network=none --entrypoint /bin/sh "$IMAGE" -c \
     'for t in pip pip3 gcc cc make; do command -v "$t" && exit 1; done; exit 0' >/dev/null; then
  report final-stage RAN "no pip, gcc, cc or make in the final stage; runs as $(podman image inspect --format '{{.Config.User}}' "$IMAGE")"
else
  report final-stage FAILED "a build tool is present in the final stage"
fi

# 5. run against the embedded S3 and PostgreSQL ----------------------------
if [ -z "${CHATKEEPER_TEST_PG_DSN:-}" ]; then
  report run SKIPPED "CHATKEEPER_TEST_PG_DSN is not set (PostgreSQL on loopback)"; finish
fi
if "$PY" deploy/container/run_check.py --image "$IMAGE" --work "$CACHE/run"; then
  report run RAN "healthz, HEALTHCHECK, signed Slack delivery journaled, bundle sealed and verified"
else
  report run FAILED "see the lines above"
fi
finish
