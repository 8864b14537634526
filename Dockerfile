# One image for every node of a swarm (see docker-compose.yml).
FROM node:24-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY . .
ENV FRAMEHUB_REPO=/data/repo
ENTRYPOINT []
# The daemon is PID 1 itself (no npm or shell in between), so `docker stop`'s SIGTERM closes it cleanly.
CMD ["node", "bin/framehub.js", "daemon", "--api", "0.0.0.0:8080"]
