# The image every Winnow service runs (ML backend, sync worker, API, UI, batch jobs).
#
# CPU by default. The lock installs PyPI's torch wheel, which carries its own CUDA runtime
# (the nvidia-* wheels), so the same image uses a GPU when the container is given one:
# `docker compose -f docker-compose.yml -f docker-compose.gpu.yml up` on a host with the
# NVIDIA driver and container toolkit. BASE_IMAGE can name another Python 3.11 image
# (for example an internal mirror); nothing else in the build depends on it.
# tests/deploy/test_dockerfile.py checks this file (pinned base, lock file, non-root user).
ARG BASE_IMAGE=python:3.11.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WINNOW_DATA_DIR=/srv/winnow

WORKDIR /app
# Dependencies first, from the same lock file `make` uses, so code edits reuse this layer.
COPY requirements/lock.txt requirements/lock.txt
RUN pip install --no-deps -r requirements/lock.txt && pip check

COPY pyproject.toml README.md ./
COPY winnow winnow
COPY analysis analysis
COPY ml_backend ml_backend
COPY sync sync
COPY serve serve
RUN pip install --no-deps --no-build-isolation . && winnow --help > /dev/null

# Run as an unprivileged user; the data directory is the one volume it writes.
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin winnow \
    && mkdir -p /srv/winnow \
    && chown winnow:winnow /srv/winnow
USER winnow
VOLUME ["/srv/winnow"]

EXPOSE 9090 8000 8501
ENTRYPOINT ["winnow"]
CMD ["--help"]
