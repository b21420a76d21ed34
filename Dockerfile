# tagstream daemon image. Production config comes from TAGSTREAM_* variables or a file named by TAGSTREAM_CONFIG
# (see README "Production image"). Build: docker build -t tagstream .
# The Node line is the one in .node-version / package.json `engines` (a unit test keeps the three in step).
ARG NODE_VERSION=24.22.3

# 1. build: every dependency, TypeScript compiled to plain JavaScript in dist/.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# 2. runtime: production dependencies and dist/ only; no TypeScript, no tsx, no npx.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production TAGSTREAM_PROFILE=production TAGSTREAM_HTTP__HOST=0.0.0.0 TAGSTREAM_HTTP__PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY bin ./bin
# The flight recorder writes its crash recordings under .run/ (TAGSTREAM_FLIGHT_RECORDER__DIR moves them).
RUN mkdir -p /app/.run && chown node:node /app/.run
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.TAGSTREAM_HTTP__PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
# exec form, node as PID 1: SIGTERM reaches the daemon itself, which drains and exits (contract 10).
CMD ["node", "dist/main.js"]
