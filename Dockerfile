# The OMS image: one image for the API (default) and the worker (`oms worker`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . .
RUN pip install . \
    && useradd --system --uid 10001 --create-home --home-dir /home/oms oms

# Nothing in /app is written at run time: production state lives in PostgreSQL.
USER oms
WORKDIR /home/oms
EXPOSE 8000
CMD ["oms", "api"]
