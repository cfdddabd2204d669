# The operator image: `odoo-operator run` (the operator) and `odoo-operator job ...` (the
# backup/restore Jobs). See docs/image.md: base image, PostgreSQL client major, how to bump.
ARG BASE_IMAGE=docker.io/library/debian:13.1-slim

# -- builder: a virtualenv with the package and its dependencies (wheels only) -----------
FROM ${BASE_IMAGE} AS builder
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# Optional, for builds behind a TLS-intercepting proxy: the path of a CA bundle the build
# mounts (buildah bud --volume HOST_BUNDLE:/run/build-ca.crt:ro --build-arg PIP_CERT=/run/build-ca.crt).
ARG PIP_CERT
RUN python3 -m venv /opt/odoo-operator
WORKDIR /src
COPY pyproject.toml README.md ./
COPY odoo_operator ./odoo_operator
RUN /opt/odoo-operator/bin/pip install --no-compile . \
    && /opt/odoo-operator/bin/python -m compileall -q /opt/odoo-operator/lib \
    && /opt/odoo-operator/bin/pip uninstall -y pip

# -- final: Python, the newest PostgreSQL client tools, the virtualenv; no compilers ------
FROM ${BASE_IMAGE}
# The job runner refuses a pg_dump older than the server: carry the newest major Debian has.
ARG PG_MAJOR=17
ARG VERSION=0.1.0.dev0
LABEL org.opencontainers.image.title="odoo-operator" \
      org.opencontainers.image.description="Kubernetes operator that hosts Odoo instances: deploy, initialise, upgrade, back up and restore." \
      org.opencontainers.image.source="https://github.com/bemade/odoo-operator" \
      org.opencontainers.image.licenses="LGPL-3.0-or-later" \
      org.opencontainers.image.version="${VERSION}"
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 "postgresql-client-${PG_MAJOR}" ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=builder /opt/odoo-operator /opt/odoo-operator
# pg_dump and friends straight from their major's directory (not Debian's perl wrapper);
# nothing is written at run time: no bytecode, no home directory (read-only root filesystem).
ENV PATH="/opt/odoo-operator/bin:/usr/lib/postgresql/${PG_MAJOR}/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/nonexistent
USER 65532:65532
ENTRYPOINT ["odoo-operator"]
CMD ["run"]
