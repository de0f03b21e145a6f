# One image for the API (default command), the worker (`oms worker`) and migrations
# (`oms migrate`); docker-compose.yml runs all three from it.

# --- build: install the project and its dependencies into a self-contained venv ----------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Dependencies first, read from pyproject.toml alone, so editing the source reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('requirements.txt', 'w').write('\n'.join(deps))" \
 && pip install -r requirements.txt

COPY . .
RUN pip install --no-deps .

# --- runtime: the venv only, run as an unprivileged user ---------------------------------
FROM python:3.11-slim

# Same base image and path as the build stage, so the venv's interpreter links stay valid.
COPY --from=build /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OMS_API_HOST=0.0.0.0

RUN groupadd --system --gid 10001 oms \
 && useradd --system --uid 10001 --gid oms --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin oms \
 && mkdir /app && chown oms:oms /app
# Writable working directory: the default data folder (.oms/, SQLite) is relative to it.
WORKDIR /app
USER oms

EXPOSE 8000

# No curl in slim images; the interpreter is already here. /health answers 503 (an error for
# urlopen) while the database or Temporal is unreachable. Meaningful for the API only: the
# compose file switches it off for the worker and migrations.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('OMS_API_PORT', '8000'), timeout=4)"]

CMD ["oms", "api"]
