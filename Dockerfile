FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 stancemap

WORKDIR /opt/stancemap
COPY pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
COPY seeds ./seeds
RUN pip install --no-cache-dir .

USER 10001
WORKDIR /home/stancemap
RUN mkdir -p /home/stancemap/data
VOLUME ["/home/stancemap/data"]
ENV STANCEMAP_DATABASE_URL=sqlite:////home/stancemap/data/stancemap.db

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["stancemap", "serve", "--host", "0.0.0.0", "--port", "8000"]
