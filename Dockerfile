# Every facematch image, one target each (build context: the repository root; docker-compose.yml sets it):
#   api              the HTTP ingress: only the packages the API imports, no tfjs, no weights
#   worker-embedded  a worker on the embedded CPU runtime (onnxruntime-node's CPU provider, tfjs WASM as the
#                    fallback): builds from the npm registry alone
#   worker           a worker on tfjs-node, TensorFlow's native CPU library (its install downloads libtensorflow)
#   worker-gpu       a worker on tfjs-node-gpu, CUDA (its install downloads libtensorflow-gpu)
#   worker-onnx-gpu  a worker on onnxruntime-node's CUDA provider (its install downloads it from NuGet;
#                    CUDA 12, so a base image of its own)
# Stages the smoke test builds come first: Docker's classic builder (docker-compose v1) builds every stage
# above its target, so the two that need downloads outside npm sit at the end.
#
# The base images are arguments so a locally built stand-in can replace them (test/docker/smoke.sh).
ARG NODE_IMAGE=node:22-bookworm-slim
ARG NODE_BUILD_IMAGE=node:22-bookworm
# libtensorflow 2.9.1 (what tfjs-node-gpu 4.22 downloads) is built for CUDA 11.2 and cuDNN 8.1; CUDA's
# minor-version compatibility runs it on this 11.8 runtime, the newest 11.x with an Ubuntu 22.04 image.
ARG CUDA_IMAGE=nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04
# onnxruntime-node 1.30's CUDA provider is built for CUDA 12 and cuDNN 9.
ARG CUDA12_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04

# The workspace manifests alone, so `npm ci` layers are rebuilt only when a dependency changes.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir /out && find . -name package.json -not -path '*/node_modules/*' -not -path './packages/engine/native/*' \
      -exec cp --parents {} /out \; && cp package-lock.json /out/

FROM ${NODE_IMAGE} AS api-deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY --from=manifests /out/ ./
# The API's own dependency tree only (no engine, so no tfjs or sharp). No install scripts: the API needs
# none, and some (@scarf/scarf) would phone home. face-api is only @facematch/models' optional peer (the
# weights' source, for staging), but npm's workspace filter installs it anyway: the API never loads it.
RUN npm ci --omit=dev --ignore-scripts -w @facematch/api && rm -rf node_modules/@vladmandic && npm cache clean --force

FROM ${NODE_IMAGE} AS api
WORKDIR /app
ENV NODE_ENV=production NPM_CONFIG_UPDATE_NOTIFIER=false
# node_modules, and those npm nests inside workspaces (packages/*/node_modules) for version conflicts.
COPY --from=api-deps /app /app
COPY models/package.json models/index.mjs models/index.d.ts models/calibration.ts models/recogniser.ts models/calibration.json models/manifest.json models/
COPY models/onnx models/onnx
COPY packages/auth packages/auth
COPY packages/config packages/config
COPY packages/contracts packages/contracts
COPY packages/logger packages/logger
COPY packages/metrics packages/metrics
COPY packages/queue packages/queue
COPY packages/supervisor packages/supervisor
COPY packages/webhooks packages/webhooks
COPY apps/api apps/api
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node itself, with tsx as an in-process loader: SIGTERM reaches the app (run it under an init, which
# compose's `init: true` or `docker run --init` provides, so node is PID 1's child and zombies are reaped).
CMD ["node", "--import", "tsx", "apps/api/src/main.ts"]

FROM ${NODE_IMAGE} AS worker-deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY --from=manifests /out/ ./
COPY models/manifest.json models/index.mjs models/stage.mjs models/
COPY models/onnx models/onnx
# sharp's native build ships as npm packages (@img/sharp-*), so no install script is needed; the weights
# are staged (and their sha256 checked) from the pinned face-api package by our own script, which also
# converts them to the ONNX graphs (checked against the manifest too). onnxruntime-node's CPU library is
# inside its package (its skipped install script only downloads the CUDA provider); the other platforms'
# copies of it (about 240 MB) are dropped.
RUN npm ci --omit=dev --ignore-scripts -w @facematch/worker && node models/stage.mjs \
    && find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 2 -maxdepth 2 -type d \
         ! -path "*/linux/$(node -p 'process.arch')" -exec rm -rf {} + \
    && npm cache clean --force

FROM ${NODE_IMAGE} AS worker-embedded
WORKDIR /app
# auto: onnxruntime-node's CPU provider, or tfjs WASM where it cannot open (one intra-op thread each).
ENV NODE_ENV=production NPM_CONFIG_UPDATE_NOTIFIER=false TF_BACKEND=auto WORKERS=1
COPY --from=worker-deps /app /app
COPY models/package.json models/index.d.ts models/calibration.ts models/recogniser.ts models/calibration.json models/
COPY packages/config packages/config
COPY packages/contracts packages/contracts
COPY packages/engine/package.json packages/engine/
COPY packages/engine/src packages/engine/src
COPY packages/logger packages/logger
COPY packages/metrics packages/metrics
COPY packages/queue packages/queue
COPY packages/supervisor packages/supervisor
COPY packages/webhooks packages/webhooks
COPY apps/worker apps/worker
USER node
# One worker process per container (WORKERS=1): scale with `docker compose up --scale worker=N`.
# Healthy while the worker runs and its Redis connection is up (its /healthz, on the metrics port).
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s \
  CMD node -e "const p=process.env.METRICS_PORT;if(!p)process.exit(0);fetch('http://127.0.0.1:'+p+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--import", "tsx", "apps/worker/src/supervisor.ts"]

# The native runtimes come from their own lockfiles (packages/engine/native/*) into /node_modules, which
# Node's resolution reaches from /app after /app/node_modules: pinned like everything else, and kept out of
# the main lockfile, whose `npm install` must never download libtensorflow.
FROM ${NODE_BUILD_IMAGE} AS native-cpu
WORKDIR /native
COPY packages/engine/native/tfjs-node/package.json packages/engine/native/tfjs-node/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM worker-embedded AS worker
ENV TF_BACKEND=tensorflow
COPY --from=native-cpu /native/node_modules /node_modules

FROM ${NODE_BUILD_IMAGE} AS native-gpu
WORKDIR /native
COPY packages/engine/native/tfjs-node-gpu/package.json packages/engine/native/tfjs-node-gpu/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS node-runtime

FROM ${CUDA_IMAGE} AS worker-gpu
# Node from the same pinned Node image as the others (no curl | bash), and no build tools.
COPY --from=node-runtime /usr/local/bin/node /usr/local/bin/node
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home node
WORKDIR /app
COPY --from=worker-embedded /app /app
COPY --from=native-gpu /native/node_modules /node_modules
# Allocate GPU memory as needed: TensorFlow's default reserves nearly all of it at the first kernel.
ENV NODE_ENV=production TF_BACKEND=cuda WORKERS=1 TF_FORCE_GPU_ALLOW_GROWTH=true
USER node
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s \
  CMD node -e "const p=process.env.METRICS_PORT;if(!p)process.exit(0);fetch('http://127.0.0.1:'+p+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--import", "tsx", "apps/worker/src/supervisor.ts"]

# onnxruntime's CUDA provider: its install script, skipped everywhere else, downloads the provider
# libraries from NuGet into the package (ONNXRUNTIME_NODE_INSTALL=cuda12 asks for them explicitly).
FROM worker-deps AS onnx-cuda
RUN cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install

FROM ${CUDA12_IMAGE} AS worker-onnx-gpu
COPY --from=node-runtime /usr/local/bin/node /usr/local/bin/node
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home node
WORKDIR /app
COPY --from=worker-embedded /app /app
COPY --from=onnx-cuda /app/node_modules/onnxruntime-node /app/node_modules/onnxruntime-node
# The CUDA provider first, the CPU provider for any node it does not support.
ENV NODE_ENV=production TF_BACKEND=onnx ONNX_PROVIDERS=cuda,cpu WORKERS=1
USER node
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s \
  CMD node -e "const p=process.env.METRICS_PORT;if(!p)process.exit(0);fetch('http://127.0.0.1:'+p+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--import", "tsx", "apps/worker/src/supervisor.ts"]
