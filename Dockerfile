# The forwarder's image: every process of docker-compose.yml runs it as `forwarder <command>`.
# Alone, `docker run -v forwarder-data:/data --env-file .env IMAGE` runs `forwarder up`
# (SQLite and the embedded Redis in /data).
FROM python:3.11-slim-bookworm

# The distribution's ffmpeg (with ffprobe), not the static build bundled by imageio-ffmpeg.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY core core
COPY bot bot
COPY jobs jobs
COPY webapp webapp
COPY charts charts
COPY forwarder forwarder
# The project's dependencies include yt-dlp[default] and the "deno" package: the Deno binary lands
# in /usr/local/bin, where core/platforms/youtube_download.py finds it for yt-dlp; fail the build
# here if this platform has no deno wheel.
RUN pip install . \
    && deno --version \
    && python -c "import yt_dlp_ejs"

# An unprivileged user owns DATA_DIR; a new named volume mounted there takes this ownership.
RUN useradd --system --uid 10001 --user-group --create-home --shell /usr/sbin/nologin forwarder \
    && mkdir -p /data \
    && chown forwarder:forwarder /data \
    && chmod 700 /data
USER forwarder
ENV DATA_DIR=/data FFMPEG_BINARY=/usr/bin/ffmpeg WEB_HOST=0.0.0.0 WEB_PORT=8080
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["forwarder"]
CMD ["up"]
