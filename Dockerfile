# syntax=docker/dockerfile:1
# The OMS image: one image for the API (`oms api`, the default) and the workers (`oms worker`).
# It holds production only: the dependencies pinned with their hashes in requirements.lock
# (`make lock`), and the OMS. No Temporal dev or test server, no plotting, no test tools:
# those are extras (local, simulate, dev) that `make install` adds on a developer's machine.
#
#   docker build -t oms .
#
# Both stages start from the same image (the venv's python links to its interpreter). For
# builds that are the same to the byte, pin it by digest: PYTHON_IMAGE=python:3.11-slim-trixie@sha256:...
ARG PYTHON_IMAGE=python:3.11-slim-trixie

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# A venv without pip of its own: the base image's pip installs into it, so the venv holds the
# locked packages and the OMS, and nothing else.
RUN python -m venv --without-pip /opt/oms

# This layer depends on the lock alone: a change to the sources builds from the next one.
# --require-hashes: a package that is not the one locked fails the build. --no-deps: nothing
# beyond the lock. --only-binary: wheels only, so no sdist runs a build with unpinned tools.
COPY requirements.lock /tmp/requirements.lock
RUN pip --python /opt/oms/bin/python install --require-hashes --no-deps --only-binary=:all: \
        -r /tmp/requirements.lock

# The OMS itself, built with the locked setuptools (no isolated build env fetching another),
# which then leaves: the runtime needs none of it. `pip check` fails the build if the lock
# misses a dependency; the import proves the API, the worker and the CLI start without extras.
COPY . /src
RUN pip --python /opt/oms/bin/python install --no-deps --no-build-isolation /src \
    && pip --python /opt/oms/bin/python uninstall --yes setuptools \
    && pip --python /opt/oms/bin/python check \
    && /opt/oms/bin/python -c "import api.app, worker.main, worker.health, cli.main"

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/oms/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN useradd --system --user-group --uid 10001 --create-home --home-dir /home/oms oms
# Owned by root: the OMS cannot rewrite its own code. Production state lives in PostgreSQL.
COPY --from=builder /opt/oms /opt/oms
USER oms
WORKDIR /home/oms
EXPOSE 8000
ENTRYPOINT ["oms"]
CMD ["api"]
