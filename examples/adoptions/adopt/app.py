"""The `adopt` service: POST /adopt/<name> {"adopter": "..."}.

What a declared route cannot do: a conditional write (adopt only a pet no
one has adopted; 409 otherwise) through DATABASE_URL with the standard
DB-API drivers (sqlite3, pg8000, PyMySQL), then a publish to the stack's
`adopted` topic through STACKWRIGHT_API_URL, with no queue client at all.

The same code runs under `stackwright up` (SQLite, PostgreSQL, MariaDB)
and on AWS (Aurora MySQL, with the password in DATABASE_PASSWORD).
"""

import json
import os
import ssl
import sqlite3
import sys
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "vendor"))

from flask import Flask, jsonify, request  # noqa: E402

app = Flask(__name__)


def connect():
    """A DB-API connection and its parameter marker, from DATABASE_URL."""
    url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    query = dict(urllib.parse.parse_qsl(url.query))
    password = urllib.parse.unquote(url.password or "") or os.environ.get("DATABASE_PASSWORD")
    user = urllib.parse.unquote(url.username or "")
    database = url.path.lstrip("/")
    tls = query.get("sslmode") == "require" or query.get("ssl-mode", "").upper() == "REQUIRED"
    if url.scheme == "sqlite":
        # sqlite:////abs/path: the runtime holds the same file; wait for its lock.
        return sqlite3.connect(url.path[1:], timeout=10), "?"
    if url.scheme == "postgresql":
        import pg8000.dbapi
        return pg8000.dbapi.connect(
            user=user, password=password, host=url.hostname, port=url.port or 5432,
            database=database, ssl_context=ssl.create_default_context() if tls else None,
        ), "%s"
    if url.scheme == "mysql":
        import pymysql
        return pymysql.connect(
            user=user, password=password or "", host=url.hostname, port=url.port or 3306,
            database=database, ssl={"ca": None} if tls else None,
        ), "%s"
    raise RuntimeError(f"unsupported database URL scheme {url.scheme}")


def publish(topic, message):
    """POST the message to the stack's topic through its own API."""
    body = json.dumps(message).encode()
    req = urllib.request.Request(
        f"{os.environ['STACKWRIGHT_API_URL']}/topics/{topic}",
        data=body, headers={"Content-Type": "application/json"}, method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as response:
        return response.status


@app.get("/health")
def health():
    return jsonify(ok=True)


@app.post("/adopt/<name>")
def adopt(name):
    body = request.get_json(silent=True)
    adopter = body.get("adopter") if isinstance(body, dict) else None
    if not isinstance(adopter, str) or not 1 <= len(adopter) <= 40:
        return jsonify(error="bad_request", message="adopter: a string of 1 to 40 characters"), 400
    connection, mark = connect()
    try:
        cursor = connection.cursor()
        # The condition is the point: of two adopters racing, one wins.
        cursor.execute(
            f"UPDATE pet SET adopted_by = {mark} WHERE name = {mark} AND adopted_by IS NULL",
            (adopter, name),
        )
        changed = cursor.rowcount
        connection.commit()
        if changed != 1:
            cursor.execute(f"SELECT adopted_by FROM pet WHERE name = {mark}", (name,))
            row = cursor.fetchone()
            if row is None:
                return jsonify(error="not_found", message=f"no pet named {name}"), 404
            return jsonify(error="conflict", message=f"{name} is adopted already"), 409
    finally:
        connection.close()
    try:
        publish("adopted", {"pet": name, "adopter": adopter})
    except (urllib.error.URLError, OSError) as e:
        # The adoption stands; the event is what failed.
        app.logger.error("publishing the adoption of %s failed: %s", name, e)
        return jsonify(pet=name, adopter=adopter, published=False), 201
    return jsonify(pet=name, adopter=adopter, published=True), 201


if __name__ == "__main__":
    from waitress import serve

    serve(app, host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ["PORT"]))
