# One image for web (daphne), worker and beat.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends chromium bubblewrap \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
ENV PYTHONUNBUFFERED=1 AGENT_BROWSER_EXECUTABLE=/usr/bin/chromium
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "xantuus.asgi:application"]
