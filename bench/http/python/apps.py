"""The pets and todo APIs as a user of Flask or FastAPI writes them: one
module, plain SQL through the usual driver (sqlite3, psycopg, PyMySQL), a
connection per gunicorn worker, a shared pool of 10 per uvicorn worker, served by
gunicorn (Flask) and uvicorn (FastAPI) with their usual production settings
(see bench/http/run). Same tables and data as stackwright's: the database
stackwright migrated and seeded.

DATABASE_URL: sqlite:///path | postgres://user@host:port/db | mysql://user@host:port/db
"""

import json
import os
import sqlite3
import threading
from urllib.parse import urlparse

URL = os.environ["DATABASE_URL"]
_local = threading.local()
# FastAPI runs plain `def` endpoints on a threadpool of up to 40 threads per
# worker: like SQLAlchemy's default pool (5 + 10 overflow), it shares a
# bounded pool of connections rather than open one per thread.
POOL_SIZE = 10
_pool = None
_pool_lock = threading.Lock()


def connect():
    u = urlparse(URL)
    if u.scheme == "sqlite":
        conn = sqlite3.connect(u.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=5000")
        return conn, "?"
    if u.scheme.startswith("postgres"):
        import psycopg
        return psycopg.connect(URL, autocommit=True), "%s"
    import pymysql
    conn = pymysql.connect(host=u.hostname, port=u.port or 3306, user=u.username or "root",
                           password=u.password or "", database=u.path.lstrip("/"), autocommit=True)
    return conn, "%s"


class Pool:
    def __init__(self, size):
        import queue
        self.free = queue.Queue()
        for _ in range(size):
            self.free.put(connect())

    def __enter__(self):
        self.held = self.free.get()
        return self.held

    def __exit__(self, *exc):
        self.free.put(self.held)


class Borrowed:
    """A connection for one request: the worker's own (gunicorn's sync
    workers serve one request at a time), or one from the shared pool
    (FastAPI's threads)."""

    def __enter__(self):
        global _pool
        if os.environ.get("SHARED_POOL"):
            with _pool_lock:
                if _pool is None:
                    _pool = Pool(POOL_SIZE)
            self.conn = _pool.free.get()
            return self.conn
        if getattr(_local, "conn", None) is None:
            _local.conn = connect()
        return _local.conn

    def __exit__(self, *exc):
        if os.environ.get("SHARED_POOL"):
            _pool.free.put(self.conn)


def query(sql, params=()):
    with Borrowed() as (conn, mark):
        cur = conn.cursor()
        cur.execute(sql.replace("?", mark), params)
        rows = cur.fetchall() if cur.description else []
        names = [d[0] for d in cur.description] if cur.description else []
        return [dict(zip(names, r)) for r in rows]


def get_pet(name):
    rows = query("SELECT name, owner, species FROM pet WHERE name = ?", (name,))
    return rows[0] if rows else None


def list_tasks():
    rows = query("SELECT id, priority, title, completed FROM tasks ORDER BY id LIMIT 1000")
    return [{"id": r["id"], "priority": r["priority"], "title": r["title"],
             "complete": bool(r["completed"])} for r in rows]


def create_task(body):
    title = body.get("title")
    if not isinstance(title, str) or not title:
        return None
    priority = body.get("priority", 0)
    completed = bool(body.get("complete", False))
    with Borrowed() as (conn, mark):
        cur = conn.cursor()
        if URL.startswith("postgres"):
            cur.execute("INSERT INTO tasks (priority, title, completed) VALUES (%s, %s, %s) RETURNING id",
                        (priority, title, completed))
            new_id = cur.fetchone()[0]
        else:
            cur.execute(f"INSERT INTO tasks (priority, title, completed) VALUES ({mark}, {mark}, {mark})",
                        (priority, title, completed))
            new_id = cur.lastrowid
    return {"id": new_id, "priority": priority, "title": title, "complete": completed}


# Flask (gunicorn flask_app)
from flask import Flask, jsonify, request  # noqa: E402

flask_app = Flask(__name__)


@flask_app.get("/api/pet/<name>")
def flask_pet(name):
    pet = get_pet(name)
    if pet is None:
        return jsonify(error={"code": "not_found", "message": "no such pet"}), 404
    return jsonify(pet)


@flask_app.get("/api/task/")
def flask_tasks():
    return jsonify(list_tasks())


@flask_app.post("/api/task/")
def flask_create():
    task = create_task(request.get_json(force=True, silent=True) or {})
    if task is None:
        return jsonify(error={"code": "bad_request", "message": "title is required"}), 400
    return jsonify(task), 201


# FastAPI (uvicorn fastapi_app); plain `def` endpoints run in its threadpool.
from fastapi import Body, FastAPI  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402

fastapi_app = FastAPI()


@fastapi_app.get("/api/pet/{name}")
def fastapi_pet(name: str):
    pet = get_pet(name)
    if pet is None:
        return JSONResponse({"error": {"code": "not_found", "message": "no such pet"}}, status_code=404)
    return pet


@fastapi_app.get("/api/task/")
def fastapi_tasks():
    return list_tasks()


@fastapi_app.post("/api/task/", status_code=201)
def fastapi_create(body: dict = Body(...)):
    task = create_task(body)
    if task is None:
        return JSONResponse({"error": {"code": "bad_request", "message": "title is required"}}, status_code=400)
    return task
