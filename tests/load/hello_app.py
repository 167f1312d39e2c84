"""The yardstick for `make bench catalog`: a bare Flask app with one "hello" route, served by the same gunicorn."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"
