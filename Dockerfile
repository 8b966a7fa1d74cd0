# CPU image for the Winnow services. Dependencies come from the same lock file as `make`.
FROM python:3.11-slim
WORKDIR /app
COPY requirements/lock.txt requirements/lock.txt
RUN pip install --no-cache-dir --no-deps -r requirements/lock.txt
COPY . .
RUN pip install --no-cache-dir --no-deps -e .
ENTRYPOINT []
CMD ["winnow", "--help"]
