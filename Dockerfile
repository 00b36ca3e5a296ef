FROM python:3.11-slim-bookworm
# The distribution's ffmpeg (with ffprobe) instead of the bundled static build.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core core
COPY bot bot
COPY jobs jobs
COPY webapp webapp
COPY charts charts
COPY forwarder forwarder
RUN pip install --no-cache-dir .
ENV DATA_DIR=/data FFMPEG_BINARY=/usr/bin/ffmpeg WEB_HOST=0.0.0.0
VOLUME /data
ENTRYPOINT ["forwarder"]
CMD ["up"]
