# Grading harness: runs run.py with the offline judge by default, or the LLM judge when OPENAI_API_KEY is set.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY run.py calibrate.py generate.py refusal.py winrate.py audit.py report.py README.md ./
COPY grader/ grader/
COPY calibration/ calibration/
COPY rubric/ rubric/
COPY examples/ examples/

RUN useradd --create-home --uid 10001 grader
USER 10001

ENTRYPOINT ["python", "run.py"]
CMD ["--samples", "examples/samples.json", "--rubric", "/tmp/rubric.json", "--output", "/tmp/results.json"]
