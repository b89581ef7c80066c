# SkillSpark images (docs/deploy.md). Two targets:
#   docker build --target bot  -t skillspark-bot  .
#   docker build --target rasa -t skillspark-rasa .
# compose.yaml builds both.

# ---------------------------------------------------------------- Rasa NLU (Python 3.10)
FROM python:3.10-slim AS rasa
ENV PIP_NO_CACHE_DIR=1 RASA_TELEMETRY_ENABLED=false
WORKDIR /rasa
COPY nlu/requirements-rasa.txt nlu/requirements-rasa.txt
RUN pip install -r nlu/requirements-rasa.txt
COPY config.yml config.yml
COPY nlu/data nlu/data
# The model is trained into the image, so a container is ready in seconds.
RUN rasa train nlu --nlu nlu/data --config config.yml --out models --fixed-model-name nlu
RUN useradd --system --uid 10001 rasa && chown -R rasa /rasa
USER rasa
EXPOSE 5005
# GET / answers 200 once the model is loaded (no token needed)
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:5005/', timeout=2).status != 200)"
# The token comes from the environment (RASA_TOKEN), never from the image.
CMD ["sh", "-c", "exec rasa run --enable-api -m models/nlu.tar.gz -i 0.0.0.0 -p 5005 --auth-token \"$RASA_TOKEN\""]

# ---------------------------------------------------------------- the bot (Python 3.11)
FROM python:3.11-slim AS bot
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
# Fonts for the picture card and the PDF pages, and espeak-ng for read-aloud voice
# notes (SKILLSPARK_SPEECH_ENABLED is on by default); bot.preflight checks both at start-up.
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends \
      fonts-noto-color-emoji fonts-dejavu-core espeak-ng \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot bot
COPY storage storage
COPY dialogues dialogues
COPY nlu nlu
COPY config.yml config.yml
# Editable, so the project root (dialogues/, nlu/) is /app
RUN pip install -e .
RUN useradd --system --uid 10001 skillspark && mkdir -p /app/data && chown -R skillspark /app/data
USER skillspark
ENV SKILLSPARK_WEBHOOK_LISTEN=0.0.0.0 SKILLSPARK_WEBHOOK_PORT=8443
EXPOSE 8443
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8443/healthz/ready', timeout=2).status != 200)"
# SIGTERM: the bot stops taking updates, drains for SKILLSPARK_STOP_SECONDS, waits up
# to 30 s for nudge calls on the wire, then shuts down (give it 60 s: compose.yaml).
STOPSIGNAL SIGTERM
CMD ["skillspark", "run"]
