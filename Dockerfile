# syntax=docker/dockerfile:1
# threadline: a multi-stage image on the current Node LTS. The build stage compiles TypeScript and
# prunes dev dependencies; the runtime stage holds only what `node dist/src/main.js` reads, and runs
# as the unprivileged `node` user. test/integration/ops/image-recipe.test.ts runs these same steps in
# a clean temporary copy of the repository, so a change here that breaks the image fails CI.

ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
# Manifests first: the dependency layer is rebuilt only when they change.
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY adapters ./adapters
RUN npm run build
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-slim AS runtime
ENV NODE_ENV=production
ENV PORT=3000
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The bundled user guide is Markdown, which tsc does not copy; the loader finds it beside dist/.
COPY --from=build /app/src/knowledge/guide ./src/knowledge/guide
USER node
EXPOSE 3000
# The slim image has no curl or wget; Node's own fetch does the probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((response) => process.exit(response.ok ? 0 : 1), () => process.exit(1))"]
# Node itself as the command (not `npm run start:prod`): npm does not pass SIGTERM on, and the bot
# needs it to finish running turns before a container stops.
CMD ["node", "dist/src/main.js"]
