# The nats-orders image: one image, every component chosen by its command
# (`gateway`, `worker`, `relay`, `provision`, `payments-stub`).
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
# Before `npm ci`: its postinstall applies them (see patches/README.md).
COPY patches ./patches
# `npm ci` runs `prepare` (the TypeScript build); dev dependencies are pruned afterwards.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
ENTRYPOINT ["node", "dist/cli.js"]
