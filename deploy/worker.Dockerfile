# A Ray node for CNN Lab's training jobs: the Ray head (with --head) or a worker. It holds
# only what a job runs (cnnlib, TensorFlow, Keras, Ray), pinned as in the dashboard image.
# Build from the project folder: docker build -f deploy/worker.Dockerfile -t cnnlab-worker .
# For a GPU worker add --build-arg TENSORFLOW_EXTRA=and-cuda and run it with a GPU.
FROM python:3.11-slim

ARG TENSORFLOW_EXTRA=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RAY_USAGE_STATS_ENABLED=0 \
    PYTHONPATH=/app

WORKDIR /app
COPY requirements.txt requirements-ray.txt ./
RUN pip install -r requirements.txt -r requirements-ray.txt \
    && if [ -n "$TENSORFLOW_EXTRA" ]; then \
         pip install "tensorflow[$TENSORFLOW_EXTRA]==$(sed -n 's/^tensorflow==//p' requirements.txt)"; \
       fi

COPY cnnlib/ cnnlib/

# Ray's ports: 6379 (cluster), 10001 (Ray Client), 8265 (Ray's own dashboard, off here).
EXPOSE 6379 10001
CMD ["ray", "start", "--address=ray-head:6379", "--block"]
