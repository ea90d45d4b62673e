# The CNN Lab dashboard as a container: Streamlit on port 8501, sending every training job to
# the Ray cluster named by CNNLAB_RAY_ADDRESS (see compose.yaml). Build from the project
# folder: docker build -f deploy/dashboard.Dockerfile -t cnnlab-dashboard .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RAY_USAGE_STATS_ENABLED=0 \
    PYTHONPATH=/app \
    CNNLAB_HOME=/data

WORKDIR /app
# The same pinned requirements as the workers, so that both ends run one Ray and one Keras.
COPY requirements.txt requirements-ray.txt deploy/requirements-auth.txt ./
RUN pip install -r requirements.txt -r requirements-ray.txt -r requirements-auth.txt

COPY app.py ./
COPY .streamlit/config.toml .streamlit/config.toml
COPY cnnlib/ cnnlib/
COPY views/ views/

# Datasets (data/) and the model library (models/, one folder per logged-in student).
VOLUME ["/data"]
EXPOSE 8501
CMD ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501"]
