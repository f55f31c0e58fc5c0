#!/usr/bin/env bash
# make docker-smoke: build the deploy image, run it bound to 127.0.0.1, and check it as a visitor would meet it:
# healthy, non-root, in deployed mode (a hostile model link refused), a precomputed map served from the
# read-only tier. Cleans up everything it started. Says why and exits non-zero when it cannot build.
#
# Where no image registry is reachable (as on this project's machines) the base image is built locally from
# Debian packages with debootstrap (Python 3.11 from bookworm) instead of the official python:3.11-slim.
# Starting a Docker engine needs root; so does installing docker.io and debootstrap with apt.
set -uo pipefail
cd "$(dirname "$0")/.."
IMAGE=induction:smoke
NAME=induction-smoke-$$
BASE=induction-base:bookworm
STARTED_DOCKERD=""
fail() { echo "docker-smoke: $*" >&2; exit 1; }
docker_cmd() { if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else docker "$@"; fi; }

cleanup() {
  docker_cmd rm -f "$NAME" >/dev/null 2>&1
  docker_cmd rmi -f "$IMAGE" >/dev/null 2>&1
  find docker-wheels -mindepth 1 ! -name README.md -delete 2>/dev/null
  if [ -n "$STARTED_DOCKERD" ]; then kill "$STARTED_DOCKERD" 2>/dev/null; wait "$STARTED_DOCKERD" 2>/dev/null; fi
}
trap cleanup EXIT

# 1. a Docker engine
if ! docker_cmd info >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || fail "no Docker engine is running and starting one needs root"
  if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq docker.io debootstrap) >/dev/null 2>&1 \
      || fail "could not install docker.io and debootstrap with apt"
  fi
  dockerd --storage-driver=overlay2 --host=unix:///var/run/docker.sock >/tmp/docker-smoke-dockerd.log 2>&1 &
  STARTED_DOCKERD=$!
  for _ in $(seq 1 60); do docker_cmd info >/dev/null 2>&1 && break; sleep 1; done
  docker_cmd info >/dev/null 2>&1 || fail "dockerd did not start (see /tmp/docker-smoke-dockerd.log)"
fi

# 2. a base image: the official one where a registry answers, else one made here from Debian packages
if docker_cmd pull -q python:3.11-slim >/dev/null 2>&1; then
  PYTHON_IMAGE=python:3.11-slim
elif docker_cmd image inspect "$BASE" >/dev/null 2>&1; then
  PYTHON_IMAGE=$BASE
else
  command -v debootstrap >/dev/null || fail "no registry is reachable and debootstrap is missing"
  ROOTFS=$(mktemp -d)
  echo "docker-smoke: no registry reachable; building $BASE from Debian packages (debootstrap)"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
    bookworm "$ROOTFS" http://deb.debian.org/debian >/tmp/docker-smoke-debootstrap.log 2>&1 \
    || { rm -rf "$ROOTFS"; fail "debootstrap failed (see /tmp/docker-smoke-debootstrap.log)"; }
  tar -C "$ROOTFS" -c . | docker_cmd import - "$BASE" >/dev/null || fail "docker import of the base failed"
  rm -rf "$ROOTFS"
  PYTHON_IMAGE=$BASE
fi

# 3. the build: this machine's torch wheel and CA bundle travel in docker-wheels/ (pip needs both here)
TORCH_INDEX=https://download.pytorch.org/whl/cpu
for wheel in /opt/wheels/torch-2.13.0*cp311*.whl; do
  [ -f "$wheel" ] && cp "$wheel" docker-wheels/ && TORCH_INDEX=https://pypi.org/simple
done
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt docker-wheels/host-ca.crt
started=$(date +%s)
DOCKER_BUILDKIT=0 docker_cmd build --network host --build-arg PYTHON_IMAGE="$PYTHON_IMAGE" \
  --build-arg TORCH_INDEX="$TORCH_INDEX" --build-arg PRECOMPUTE_MODELS="" -t "$IMAGE" . >/tmp/docker-smoke-build.log 2>&1 \
  || { tail -n 30 /tmp/docker-smoke-build.log >&2; fail "the image did not build (log: /tmp/docker-smoke-build.log)"; }
echo "docker-smoke: built $IMAGE on $PYTHON_IMAGE in $(( $(date +%s) - started ))s"

# 4. run it on 127.0.0.1 and wait for the health check
PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
docker_cmd run -d --name "$NAME" -p "127.0.0.1:$PORT:8501" "$IMAGE" >/dev/null || fail "the container did not start"
for _ in $(seq 1 90); do
  [ "$(docker_cmd inspect -f '{{.State.Health.Status}}' "$NAME" 2>/dev/null)" = healthy ] && break; sleep 2
done
[ "$(docker_cmd inspect -f '{{.State.Health.Status}}' "$NAME")" = healthy ] \
  || { docker_cmd logs "$NAME" 2>&1 | tail -n 20 >&2; fail "the container never became healthy"; }
curl -fsS "http://127.0.0.1:$PORT/_stcore/health" >/dev/null || fail "the health endpoint does not answer on 127.0.0.1"

# 5. what a visitor meets
[ "$(docker_cmd exec "$NAME" id -u)" = 1000 ] || fail "the app does not run as uid 1000"
docker_cmd exec -i "$NAME" python - <<'PY' || fail "the deployed-mode checks failed"
import os
from induction import deploy
from induction.config import InductionError, MapConfig
from induction.engine import compute_map
from dashboard.viewstate import from_query

limits = deploy.limits()
from induction.models.registry import OFFLINE_MODELS as OFFLINE  # the offline models: all the image holds here
assert limits.deployed and limits.allowed_models == OFFLINE, limits
state, notices = from_query({"model": "../../etc"}, allowed_models=limits.allowed_models)
assert state.model == "toy" and notices, "a hostile model link was not refused"
try:
    deploy.check_model("../../etc")
    raise SystemExit("the library loaded a path in deployed mode")
except InductionError:
    pass
tier = os.environ["INDUCTION_PRECOMPUTED_DIR"]
assert not os.access(tier, os.W_OK) and not os.access(os.path.join(tier, "cache.db"), os.W_OK), "tier writable"
result = compute_map(MapConfig(model="toy"))
assert result.cached, "the default map was computed, not served from the precomputed tier"
from induction.analyses.mosaic import MOSAIC_MODELS, collect
tiles, missing = collect([m for m in MOSAIC_MODELS if m in limits.allowed_models])
assert sorted(t.model for t in tiles) == sorted(OFFLINE) and not missing, (tiles, missing)
kinds = [t.kind for t in tiles]
assert kinds == sorted(kinds, key=lambda k: k != "encoder"), kinds  # encoders first, then decoders
print("docker-smoke: uid 1000, deployed mode, hostile link refused, read-only tier, precomputed toy map and "
      f"mosaic ({', '.join(t.model for t in tiles)}) served")
PY
echo "docker-smoke: passed"
