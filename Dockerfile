# One image for the api, the workers, the ui and the one-shot `migrate` service of
# docker-compose.yml; each service picks its process with `command:`. The default runs the API.
#
# No model weights are baked in: the LLM runs in the vLLM container (weights in its Hugging Face
# cache volume) and the local llama.cpp server/model used for development are not installed here.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DATA_DIR=/data

# Unprivileged user that runs every process; /data is the shared runtime volume (chapter
# mirrors, artifacts). Creating it here with this owner makes a fresh named volume inherit it.
RUN groupadd --system --gid 10001 copiloto \
    && useradd --system --uid 10001 --gid copiloto --create-home --home-dir /home/copiloto \
       --shell /usr/sbin/nologin copiloto \
    && mkdir -p /data \
    && chown copiloto:copiloto /data

WORKDIR /app

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml or the lock
# changes. requirements.lock pins every run-time package to the version the tests ran with
# (scripts/lock_requirements.py writes it from the tested virtual environment).
COPY pyproject.toml README.md requirements.lock ./
RUN mkdir -p services && touch services/__init__.py \
    && pip install --constraint requirements.lock . \
    && rm -rf build services

# Then the application itself. The source tree stays in /app and comes first on PYTHONPATH:
# services/core/migrate.py finds migrations/ relative to the source tree, and
# `streamlit run services/ui/app.py` runs the file from here.
COPY alembic.ini ./
COPY migrations ./migrations
COPY services ./services
RUN pip install --no-deps --constraint requirements.lock . \
    && rm -rf build *.egg-info \
    && python -c "import services.api.app, services.worker.tasks" \
    && copiloto --help >/dev/null

USER copiloto

EXPOSE 8010 8501

CMD ["uvicorn", "--factory", "services.api.app:create_app", "--host", "0.0.0.0", "--port", "8010"]
