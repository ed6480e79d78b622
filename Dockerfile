# One image for every Beacon process; the command picks the part (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY collector ./collector
COPY stream_processors ./stream_processors
COPY schemas ./schemas
COPY warehouse ./warehouse
COPY stack ./stack
COPY runtime ./runtime
RUN pip install . && useradd --system --uid 10001 beacon && mkdir -p /data && chown beacon /data

USER beacon
ENV BEACON_HOME=/data
EXPOSE 8080 6066 6067
CMD ["python", "-m", "collector"]
