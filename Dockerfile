# One image for every Beacon process; the command picks the part (see docker-compose.yml).

# The website tracker, built with its locked npm tooling: only the script and the demo page reach the image.
FROM node:20-bookworm-slim AS tracker
WORKDIR /tracker_js
COPY tracker_js/package.json tracker_js/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tracker_js/build.js ./
COPY tracker_js/src ./src
RUN npm run build

# The dashboard's page and script (uPlot bundled in), likewise: only dist/ reaches the image.
FROM node:20-bookworm-slim AS dashboard
WORKDIR /web
COPY dashboard/web/package.json dashboard/web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY dashboard/web/build.js ./
COPY dashboard/web/src ./src
RUN npm run build

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY collector ./collector
COPY stream_processors ./stream_processors
COPY destinations ./destinations
COPY dashboard ./dashboard
COPY schemas ./schemas
COPY warehouse ./warehouse
COPY stack ./stack
COPY runtime ./runtime
COPY --from=tracker /tracker_js/dist ./tracker_js/dist
COPY tracker_js/demo ./tracker_js/demo
COPY --from=dashboard /web/dist ./dashboard/web/dist
RUN pip install . && useradd --system --uid 10001 beacon && mkdir -p /data && chown beacon /data

USER beacon
ENV BEACON_HOME=/data
EXPOSE 8080 6066 6067 6068 6069
CMD ["python", "-m", "collector"]
