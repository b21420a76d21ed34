# tagstream daemon image. Production config comes from TAGSTREAM_* variables or a file named by TAGSTREAM_CONFIG.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production TAGSTREAM_PROFILE=production TAGSTREAM_HTTP__HOST=0.0.0.0
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
STOPSIGNAL SIGTERM
CMD ["npx", "tsx", "main.ts"]
