//! The bench's workloads served by hand: what the database path costs when
//! nothing stands between axum and the driver but a prepared statement and
//! serde. `dbceiling PORT sqlite:PATH` or `dbceiling PORT postgres://...`.
//!
//! Same answers as stackwright's: `GET /api/pet/{name}` (one row or 404),
//! `GET /api/task/` (up to 1000 rows by id, `completed` shown as
//! `complete`), `POST /api/task/` (a title, an optional priority; 201 with
//! the row).

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

const GET_PET: &str = "SELECT name, owner, species FROM pet WHERE name = $1";
const LIST_TASKS: &str =
    "SELECT id, priority, title, completed FROM tasks ORDER BY id LIMIT 1000";
const CREATE_TASK: &str = "INSERT INTO tasks (priority, title, completed) VALUES ($1, $2, false) RETURNING id";

#[derive(Serialize)]
struct Pet {
    name: String,
    owner: Option<String>,
    species: Option<String>,
}

#[derive(Serialize)]
struct Task {
    id: i64,
    priority: i32,
    title: String,
    complete: bool,
}

#[derive(Deserialize)]
struct NewTask {
    title: String,
    #[serde(default)]
    priority: i32,
}

#[derive(Clone)]
enum Db {
    /// Each worker thread opens its own connection to the file.
    Sqlite(Arc<String>),
    /// One connection per core, statements prepared once each.
    Postgres(Arc<Vec<Pg>>, Arc<AtomicUsize>),
}

struct Pg {
    client: tokio_postgres::Client,
    get_pet: tokio_postgres::Statement,
    list_tasks: tokio_postgres::Statement,
    create_task: tokio_postgres::Statement,
}

thread_local! {
    static SQLITE: RefCell<Option<rusqlite::Connection>> = const { RefCell::new(None) };
}

fn with_sqlite<T>(path: &str, f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>) -> T {
    SQLITE.with(|c| {
        let mut c = c.borrow_mut();
        let conn = c.get_or_insert_with(|| {
            let conn = rusqlite::Connection::open(path).expect("open sqlite");
            conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
            // As stackwright opens it: WAL, and no fsync per commit.
            conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
                .expect("pragmas");
            conn
        });
        f(conn).expect("sqlite")
    })
}

impl Db {
    fn pg(&self) -> &Pg {
        match self {
            Db::Postgres(pool, next) => &pool[next.fetch_add(1, Ordering::Relaxed) % pool.len()],
            Db::Sqlite(_) => unreachable!(),
        }
    }
}

/// JSON bytes as the response body, written once.
fn json_body(status: StatusCode, value: &impl Serialize, size: usize) -> Response {
    let mut body = Vec::with_capacity(size);
    serde_json::to_writer(&mut body, value).expect("serialize");
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn get_pet(State(db): State<Db>, Path(name): Path<String>) -> Response {
    let pet = match &db {
        Db::Sqlite(path) => with_sqlite(path, |c| {
            let mut st = c.prepare_cached(&GET_PET.replace("$1", "?1"))?;
            let mut rows = st.query([&name])?;
            Ok(match rows.next()? {
                Some(r) => Some(Pet {
                    name: r.get(0)?,
                    owner: r.get(1)?,
                    species: r.get(2)?,
                }),
                None => None,
            })
        }),
        Db::Postgres(..) => {
            let pg = db.pg();
            let row = pg.client.query_opt(&pg.get_pet, &[&name]).await.expect("pg");
            row.map(|r| Pet {
                name: r.get(0),
                owner: r.get(1),
                species: r.get(2),
            })
        }
    };
    match pet {
        Some(p) => json_body(StatusCode::OK, &p, 128),
        None => (StatusCode::NOT_FOUND, Json(serde_json::json!({"error": "not found"}))).into_response(),
    }
}

async fn list_tasks(State(db): State<Db>) -> Response {
    let tasks: Vec<Task> = match &db {
        Db::Sqlite(path) => with_sqlite(path, |c| {
            let mut st = c.prepare_cached(LIST_TASKS)?;
            let rows = st.query_map([], |r| {
                Ok(Task {
                    id: r.get(0)?,
                    priority: r.get(1)?,
                    title: r.get(2)?,
                    complete: r.get(3)?,
                })
            })?;
            rows.collect()
        }),
        Db::Postgres(..) => {
            let pg = db.pg();
            let rows = pg.client.query(&pg.list_tasks, &[]).await.expect("pg");
            rows.iter()
                .map(|r| Task {
                    id: r.get(0),
                    priority: r.get(1),
                    title: r.get(2),
                    complete: r.get(3),
                })
                .collect()
        }
    };
    json_body(StatusCode::OK, &tasks, 64 + tasks.len() * 64)
}

async fn create_task(State(db): State<Db>, Json(new): Json<NewTask>) -> Response {
    let id: i64 = match &db {
        Db::Sqlite(path) => with_sqlite(path, |c| {
            let mut st = c.prepare_cached(&CREATE_TASK.replace("$1", "?1").replace("$2", "?2"))?;
            st.query_row(rusqlite::params![new.priority, new.title], |r| r.get(0))
        }),
        Db::Postgres(..) => {
            let pg = db.pg();
            let row = pg
                .client
                .query_one(&pg.create_task, &[&new.priority, &new.title])
                .await
                .expect("pg");
            row.get(0)
        }
    };
    let task = Task {
        id,
        priority: new.priority,
        title: new.title,
        complete: false,
    };
    json_body(StatusCode::CREATED, &task, 128)
}

async fn connect_pg(url: &str) -> Pg {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to postgres");
    tokio::spawn(connection);
    Pg {
        get_pet: client.prepare(GET_PET).await.expect("prepare"),
        list_tasks: client.prepare(LIST_TASKS).await.expect("prepare"),
        create_task: client.prepare(CREATE_TASK).await.expect("prepare"),
        client,
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let port = args.next().expect("PORT");
    let url = args.next().expect("sqlite:PATH or postgres://...");
    let db = match url.strip_prefix("sqlite:") {
        Some(path) => Db::Sqlite(Arc::new(path.trim_start_matches("//").to_string())),
        None => {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            let mut pool = Vec::new();
            for _ in 0..cores * 2 {
                pool.push(connect_pg(&url).await);
            }
            Db::Postgres(Arc::new(pool), Arc::new(AtomicUsize::new(0)))
        }
    };
    let app = Router::new()
        .route("/api/pet/{name}", get(get_pet))
        .route("/api/task/", get(list_tasks).post(create_task))
        .with_state(db);
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
