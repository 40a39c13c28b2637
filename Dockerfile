# The one image every Deployment in deploy/ runs (`kafka-broker controller|ingress|dispatcher`).
#   docker build -f deploy/Dockerfile -t kafka-broker:0.1.0 .
# (Not built on the development machine, which has no container runtime.)
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The CLI reads its version from the package.json next to its compiled folder.
COPY --from=build /app/package.json ./dist/package.json
COPY --from=build /app/bin/kafka-broker.js ./bin/kafka-broker.js
USER node
ENTRYPOINT ["node", "bin/kafka-broker.js"]
