# The one image every Deployment in deploy/ runs (`kafka-broker controller|ingress|dispatcher`):
#
#   docker build -t registry.example.com/kafka-broker:0.1.0 .
#
# Stage 1 builds the npm package exactly as `npm pack` does for a release and installs it with
# runtime dependencies only; stage 2 copies that install onto a distroless Node 24 base: no shell,
# no npm, non-root (uid 65532), nothing written at run time (fine with readOnlyRootFilesystem).
# Node runs as PID 1 and handles SIGTERM itself (the CLI shuts down gracefully on it); it starts
# no child processes, so there is nothing to reap and no need for tini.
#
# test/integration/dockerfile.test.ts runs these steps outside a container runtime, so RUN
# commands use paths relative to WORKDIR (../pkg is /pkg) and only the instructions it knows.
ARG BUILD_IMAGE=node:24-trixie-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian13:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
# prepack compiles dist/; the tarball is what `npm publish` would upload.
RUN mkdir -p ../pkg && npm pack --pack-destination ../pkg
WORKDIR /app
RUN echo '{"private":true}' > package.json && npm install --omit=dev --no-audit --no-fund ../pkg/kafka-broker-*.tgz

FROM ${RUNTIME_IMAGE}
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
ENV NODE_ENV=production
USER 65532:65532
EXPOSE 8080 8081 9090
ENTRYPOINT ["/nodejs/bin/node", "/app/node_modules/kafka-broker/bin/kafka-broker.js"]
CMD ["--help"]
