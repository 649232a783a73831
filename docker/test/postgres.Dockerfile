# The deployment test's stand-in for the official Postgres image (no image registry is reachable
# there): Debian's PostgreSQL 15 on the test base, reading the official image's variables
# (POSTGRES_USER, POSTGRES_DB, POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE) on the first start.
ARG BASE_IMAGE=tandem-base:test
FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="postgres 15 (Debian, Tandem deployment test)"
COPY postgres-entrypoint /usr/local/bin/postgres-entrypoint
RUN install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \
    && install -d -o postgres -g postgres /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
ENTRYPOINT ["tini", "--", "postgres-entrypoint"]
