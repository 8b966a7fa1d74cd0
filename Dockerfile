# The image every Winnow service runs (ML backend, sync worker, API, UI, batch jobs).
#
# CPU by default. The lock installs PyPI's torch wheel, which carries its own CUDA runtime
# (the nvidia-* wheels), so the same image uses a GPU when the container is given one:
# `docker compose -f docker-compose.yml -f docker-compose.gpu.yml up` on a host with the
# NVIDIA driver and container toolkit. BASE_IMAGE can name another Python 3.11 image
# (for example an internal mirror, or the one `make stack-test` builds from Debian).
# tests/deploy/test_dockerfile.py checks this file (pinned base, lock file, non-root user).
ARG BASE_IMAGE=python:3.11.11-slim-bookworm

# --- build: a virtualenv with the runtime dependencies only ---------------------------------
FROM ${BASE_IMAGE} AS build
# pip's own settings, for a build host behind a TLS proxy or with a local mirror
# (`--build-arg PIP_CERT=...` with the bundle mounted at build time). They exist only in
# this stage, so nothing of them reaches the final image.
ARG PIP_CERT
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_IGNORE_REQUIRES_PYTHON
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/winnow/bin:$PATH
WORKDIR /src
# Dependencies first, from the same lock file `make` uses, so code edits reuse this layer.
COPY requirements/lock.txt requirements/pip_check.py requirements/
RUN python3 -m venv /opt/winnow \
    && pip install --no-deps -r requirements/lock.txt && python requirements/pip_check.py

COPY pyproject.toml README.md ./
COPY winnow winnow
COPY analysis analysis
COPY ml_backend ml_backend
COPY sync sync
COPY serve serve
COPY deploy/prune_venv.py deploy/prune_venv.py
# The lock also holds the test tools: keep only what `winnow[ray]` needs at run time.
RUN pip install --no-deps --no-build-isolation . \
    && python deploy/prune_venv.py winnow ray \
    && python requirements/pip_check.py

# --- the image: the virtualenv on a clean base, no compilers, no test tools ------------------
FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/winnow/bin:$PATH \
    WINNOW_DATA_DIR=/srv/winnow
COPY --from=build /opt/winnow /opt/winnow

# Run as an unprivileged user; the data directory is the one volume it writes.
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin winnow \
    && mkdir -p /srv/winnow \
    && chown winnow:winnow /srv/winnow \
    && winnow --help > /dev/null
USER winnow
WORKDIR /home/winnow
VOLUME ["/srv/winnow"]

EXPOSE 9090 8000 8501
ENTRYPOINT ["winnow"]
CMD ["--help"]
