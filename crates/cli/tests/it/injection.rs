//! The injection corpus (issue 9): SQL meta-characters, NoSQL operators,
//! path traversal, oversized and invalid UTF-8 values, unicode edge cases,
//! duplicate JSON keys, deeply nested JSON, wrong JSON types, unknown
//! fields, empty bodies and wrong content types, sent into every path
//! parameter, declared query parameter and body field of every route of
//! every example (routes read from the stack, so a new route is covered),
//! plus its topics, its user pool and its site.
//!
//! Every answer must be a correct result (2xx) or a 4xx JSON error of the
//! error schema: never a 5xx, a dropped connection or a hang. The stored
//! data (every row of every table, queued and dead messages) is compared
//! before and after each request: a refused request changes nothing, an
//! accepted create stores exactly what was sent (then is undone).
//!
//! Requests go over a raw TCP connection, so bytes that a client library
//! would normalize or refuse (`..` segments, invalid UTF-8) reach the server.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value as Json};
use stackwright_stack::{ColumnType, KeySource, Operation, Order, Route, Stack, Table, Users};
use stackwright_storage::{Engine, ListQuery, Row};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{on_every_engine, signed_in_token, TempStack, TestApp, TestEngine};

/// Text values, sent as path and query values (percent-encoded, so they
/// arrive as written) and as JSON strings in bodies: (category, value).
const TEXT: &[(&str, &str)] = &[
    ("sql", "' OR '1'='1"),
    ("sql", "' OR 1=1--"),
    ("sql", "1; DROP TABLE tasks--"),
    ("sql", "x'; DROP TABLE pet; --"),
    ("sql", "\""),
    ("sql", "\\"),
    ("sql", "'"),
    ("sql", "%"),
    ("sql", "_"),
    ("sql", "%_%"),
    ("sql", "1 UNION SELECT name, sql FROM sqlite_master--"),
    ("sql", "1) OR (1=1"),
    ("sql", "`id`"),
    ("sql", "'; SELECT pg_sleep(10)--"),
    ("sql", "x' AND SLEEP(10)#"),
    ("sql", "$1"),
    ("sql", "?"),
    ("nosql", r#"{"$ne": null}"#),
    ("nosql", r#"{"$gt": ""}"#),
    ("nosql", "$where: '1 == 1'"),
    ("nosql", "#a = :b"),
    ("nosql", "attribute_exists(id)"),
    ("nosql", ":v0"),
    ("nosql", r#"{"S": "x"}"#),
    ("traversal", "../../etc/passwd"),
    ("traversal", "..\\..\\windows\\win.ini"),
    ("traversal", "%2e%2e%2f"),
    ("traversal", "..%2f..%2fetc%2fpasswd"),
    ("traversal", "%00"),
    ("traversal", "//"),
    ("traversal", "/"),
    ("traversal", "."),
    ("traversal", ".."),
    ("unicode", "\u{202e}evil\u{202c}"),
    ("unicode", "nul\0byte"),
    ("unicode", "\0"),
    ("unicode", "😀🐈\u{200d}⬛"),
    ("unicode", "e\u{301}"),
    ("unicode", "\u{feff}bom"),
    ("unicode", "\u{fffd}"),
    ("unicode", "line\r\nbreak"),
    ("unicode", "tab\there"),
    ("unicode", "\u{7f}\u{1b}[31m"),
    ("empty", ""),
    ("empty", " "),
    ("number", "100000000000000000000000000000"),
    ("number", "-1"),
    ("number", "1e3"),
    ("number", "0x10"),
    ("number", "NaN"),
    ("number", "9223372036854775808"),
    ("number", "-9223372036854775809"),
    ("number", "2147483648"),
];

/// JSON values (as raw JSON text) for body fields: operators, wrong types,
/// out-of-range numbers, escapes a database may not store.
const JSON_VALUES: &[(&str, &str)] = &[
    ("nosql", r#"{"$ne": null}"#),
    ("nosql", r#"{"$gt": ""}"#),
    ("nosql", r#"{"$where": "sleep(1000)"}"#),
    ("nosql", r#"{"S": "x"}"#),
    ("nosql", r#"{"N": "1"}"#),
    ("type", "[]"),
    ("type", r#"["a", "b"]"#),
    ("type", "{}"),
    ("type", "true"),
    ("type", "null"),
    ("type", "0"),
    ("type", "-1"),
    ("type", "1.5"),
    ("type", "-0.0"),
    ("number", "100000000000000000000000000000"),
    ("number", "1e30"),
    ("number", "1e400"),
    ("number", "9223372036854775807"),
    ("number", "-9223372036854775809"),
    ("number", "2147483648"),
    ("unicode", r#""\ud800""#),
    ("unicode", r#""\udc00\ud800""#),
    ("unicode", r#""\u0000""#),
    ("unicode", r#""a\u0000b""#),
    ("unicode", r#""\ud83d\ude00""#),
];

/// Whole request bodies.
fn whole_bodies(first_string_field: &str) -> Vec<(&'static str, Vec<u8>)> {
    let f = first_string_field;
    let mut deep = "[".repeat(10_000).into_bytes();
    deep.extend("]".repeat(10_000).into_bytes());
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    vec![
        ("empty", Vec::new()),
        ("blank", b"  \n".to_vec()),
        ("null", b"null".to_vec()),
        ("array", b"[]".to_vec()),
        ("string", br#""' OR '1'='1""#.to_vec()),
        ("number", b"1".to_vec()),
        ("truncated", b"{".to_vec()),
        ("trailing", format!(r#"{{"{f}":"x"}} garbage"#).into_bytes()),
        (
            "two values",
            format!(r#"{{"{f}":"x"}}{{"{f}":"y"}}"#).into_bytes(),
        ),
        (
            "duplicate keys",
            format!(r#"{{"{f}":"a","{f}":"b"}}"#).into_bytes(),
        ),
        ("nested", deep),
        ("nested objects", deep_objects.into_bytes()),
        (
            "invalid utf-8",
            [&b"{\""[..], f.as_bytes(), b"\":\"\xff\xfe\"}"].concat(),
        ),
        ("invalid utf-8 key", b"{\"\xff\xfe\":\"x\"}".to_vec()),
        (
            "lone surrogate",
            format!(r#"{{"{f}":"\ud800"}}"#).into_bytes(),
        ),
        (
            "bom",
            [&b"\xef\xbb\xbf"[..], format!(r#"{{"{f}":"x"}}"#).as_bytes()].concat(),
        ),
        ("nan", format!(r#"{{"{f}":NaN}}"#).into_bytes()),
        ("comment", format!(r#"{{/*x*/"{f}":"x"}}"#).into_bytes()),
        ("single quotes", format!("{{'{f}':'x'}}").into_bytes()),
        (
            "unknown field",
            format!(r#"{{"{f}":"x","$where":"1"}}"#).into_bytes(),
        ),
        ("operator key", br#"{"$set":{"likes":1000}}"#.to_vec()),
        ("nul", b"\0".to_vec()),
    ]
}

// ---- raw HTTP ------------------------------------------------------------

#[derive(Debug, PartialEq)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Option<Json> {
        serde_json::from_slice(&self.body).ok()
    }
}

struct Req {
    /// Not valid HTTP/1.1 (bytes a request target may not hold): hyper
    /// refuses it before any route runs, with a bare 400.
    malformed: bool,
    method: &'static str,
    target: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
}

impl Req {
    fn new(method: &'static str, target: impl Into<Vec<u8>>) -> Req {
        let target: Vec<u8> = target.into();
        Req {
            malformed: target.iter().any(|b| *b >= 0x80 || *b < 0x21),
            method,
            target,
            headers: Vec::new(),
            body: None,
        }
    }
    fn json(mut self, body: impl Into<Vec<u8>>) -> Req {
        self.headers
            .push(("Content-Type".into(), b"application/json".to_vec()));
        self.body = Some(body.into());
        self
    }
    fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Req {
        let value: Vec<u8> = value.into();
        self.malformed |= value
            .iter()
            .any(|b| (*b < 0x20 && *b != b'\t') || *b == 0x7f);
        self.headers.push((name.into(), value));
        self
    }
}

/// One request on its own connection; the whole answer, or a panic naming
/// `label` when the connection drops or nothing comes within 20 seconds.
async fn send(port: u16, req: &Req, label: &str) -> Raw {
    let mut head = Vec::new();
    head.extend_from_slice(req.method.as_bytes());
    head.push(b' ');
    head.extend_from_slice(&req.target);
    head.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (n, v) in &req.headers {
        head.extend_from_slice(n.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(v);
        head.extend_from_slice(b"\r\n");
    }
    if let Some(b) = &req.body {
        head.extend_from_slice(format!("Content-Length: {}\r\n", b.len()).as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    let exchange = async {
        let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        conn.write_all(&head).await?;
        if let Some(b) = &req.body {
            // The server may answer (413) and close before reading it all.
            let _ = conn.write_all(b).await;
        }
        let mut out = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match conn.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                // A reset after the whole answer arrived (unread request
                // bytes) still leaves the answer.
                Err(_) if !out.is_empty() => break,
                Err(e) => return Err(e),
            }
        }
        Ok::<_, std::io::Error>(out)
    };
    let bytes = match tokio::time::timeout(Duration::from_secs(20), exchange).await {
        Err(_) => panic!("{label}: no answer within 20 s (hang)"),
        Ok(Err(e)) => panic!("{label}: connection failed: {e}"),
        Ok(Ok(b)) => b,
    };
    parse_response(&bytes).unwrap_or_else(|| {
        panic!(
            "{label}: not an HTTP answer (dropped connection?): {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        )
    })
}

fn parse_response(bytes: &[u8]) -> Option<Raw> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = bytes[end + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n")?;
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..nl]).ok()?.trim(), 16).ok()?;
            if size == 0 {
                break;
            }
            out.extend_from_slice(rest.get(nl + 2..nl + 2 + size)?);
            rest = rest.get(nl + 4 + size..)?;
        }
        body = out;
    }
    Some(Raw {
        status,
        headers,
        body,
    })
}

/// Percent-encode every byte but letters and digits, so the server decodes
/// exactly `value`.
fn enc(value: &[u8]) -> String {
    value
        .iter()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (*b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ---- the stored data -----------------------------------------------------

/// Every row of every table (in key order), and per subscription the
/// messages queued and dead. Two snapshots are equal when the tables both
/// hold are (a focused snapshot holds fewer).
#[derive(Debug, Clone)]
struct Snapshot {
    tables: Vec<(String, Vec<Row>)>,
    queues: Vec<(String, u64, usize)>,
}

impl PartialEq for Snapshot {
    fn eq(&self, other: &Snapshot) -> bool {
        self.queues == other.queues
            && self.tables.iter().all(|(name, rows)| {
                other
                    .tables
                    .iter()
                    .find(|(n, _)| n == name)
                    .is_none_or(|(_, r)| r == rows)
            })
    }
}

impl Snapshot {
    fn rows(&self, table: &str) -> &[Row] {
        self.tables
            .iter()
            .find(|(n, _)| n == table)
            .map_or(&[], |(_, r)| r.as_slice())
    }
}

struct Store {
    engine: Arc<dyn Engine>,
    tables: Vec<Table>,
    subscriptions: Vec<String>,
    /// Tables a section's requests could touch: snapshots after each of
    /// its requests read only these (the section ends with a full one).
    focus: Option<Vec<String>>,
}

impl Store {
    async fn open(app: &TestApp, stack: &Stack) -> Store {
        let engine = stackwright_storage::open(&app.database)
            .await
            .expect("open the database");
        let mut tables: Vec<Table> = stack.tables.values().cloned().collect();
        if stack.users.is_some() {
            tables.extend(Users::tables());
        }
        Store {
            engine,
            tables,
            subscriptions: stack.subscriptions.iter().map(|s| s.name.clone()).collect(),
            focus: None,
        }
    }

    fn table(&self, name: &str) -> &Table {
        self.tables.iter().find(|t| t.name == name).expect("table")
    }

    async fn snapshot(&self) -> Snapshot {
        let mut tables = Vec::new();
        let focused = |t: &&Table| self.focus.as_ref().is_none_or(|f| f.contains(&t.name));
        for t in self.tables.iter().filter(focused) {
            let order = [Order {
                column: t.key.clone(),
                descending: false,
            }];
            let mut rows = Vec::new();
            let mut after: Option<stackwright_storage::Row> = None;
            loop {
                let page = self
                    .engine
                    .list(
                        t,
                        &ListQuery {
                            filters: Vec::new(),
                            ranges: Vec::new(),
                            order_by: &order,
                            limit: 1000,
                            after: after.as_ref(),
                        },
                    )
                    .await
                    .expect("list");
                after = page.next.clone();
                rows.extend(page.into_rows().expect("rows"));
                if after.is_none() {
                    break;
                }
            }
            tables.push((t.name.clone(), rows));
        }
        let mut queues = Vec::new();
        let local = self.engine.queues_locally();
        for s in self.subscriptions.iter().filter(|_| local) {
            let queue = self.engine.require_queue().expect("a queue");
            let queued = queue.queued(s).await.expect("queued");
            let dead = queue.dead_letters(Some(s)).await.expect("dead").len();
            queues.push((s.clone(), queued, dead));
        }
        Snapshot { tables, queues }
    }
}

/// Rows of `after` not in `before`, per table.
fn added(before: &Snapshot, after: &Snapshot) -> Vec<(String, Row)> {
    let mut out = Vec::new();
    for (name, rows_after) in &after.tables {
        let rows_before = before.rows(name);
        for r in rows_after {
            if !rows_before.contains(r) {
                out.push((name.clone(), r.clone()));
            }
        }
    }
    out
}

fn describe_change(before: &Snapshot, after: &Snapshot) -> String {
    let mut out = String::new();
    for (name, a) in &after.tables {
        let b = before.rows(name);
        for r in a.iter().filter(|r| !b.contains(r)) {
            out.push_str(&format!("\n  + {name}: {}", json!(r)));
        }
        for r in b.iter().filter(|r| !a.contains(r)) {
            out.push_str(&format!("\n  - {name}: {}", json!(r)));
        }
    }
    if after.queues != before.queues {
        out.push_str(&format!(
            "\n  queues {:?} -> {:?}",
            before.queues, after.queues
        ));
    }
    out
}

// ---- the run -------------------------------------------------------------

/// Which error schema a path answers with.
#[derive(Clone, Copy, PartialEq)]
enum Schema {
    /// `{"error":{"code","message"}}`, application/json.
    Api,
    /// Cognito's `{"__type","message"}`, application/x-amz-json-1.1.
    Cognito,
    /// Site pages: any success; errors as `Api`.
    Site,
}

struct Run {
    port: u16,
    store: Store,
    baseline: Snapshot,
    /// Bearer token of a signed-in user (stacks with `[users]`).
    token: Option<String>,
    requests: usize,
    label: String,
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Refused,
    Accepted(Raw),
}

impl Run {
    /// Every table as at the start (ends a focused section).
    async fn check_all(&mut self) {
        self.store.focus = None;
        let now = self.store.snapshot().await;
        assert!(
            now == self.baseline,
            "{}: stored data changed:{}",
            self.label,
            describe_change(&self.baseline, &now)
        );
    }

    /// Send `req`; check the answer's shape, and (when `check_store`) that
    /// a refused request (or a read) changed nothing.
    async fn send(&mut self, req: Req, schema: Schema, what: &str, check_store: bool) -> Outcome {
        self.requests += 1;
        let label = format!(
            "{}: {} {} ({what})",
            self.label,
            req.method,
            String::from_utf8_lossy(&req.target[..req.target.len().min(200)])
        );
        let r = send(self.port, &req, &label).await;
        let body_text = String::from_utf8_lossy(&r.body[..r.body.len().min(500)]).into_owned();
        assert!(
            r.status < 500,
            "{label}: answered {} (a server fault): {body_text}",
            r.status
        );
        assert!(
            (200..300).contains(&r.status) || (300..500).contains(&r.status),
            "{label}: status {}",
            r.status
        );
        assert_ne!(r.status, 429, "{label}: paced, so not tested: {body_text}");
        if r.status == 400 && req.malformed {
            // hyper's own answer to a request line it cannot parse.
        } else if r.status >= 400 {
            let ct = r.header("content-type").unwrap_or("");
            let body = r.json().unwrap_or_else(|| {
                panic!(
                    "{label}: a {} that is not JSON (content-type {ct:?}): {body_text:?}",
                    r.status
                )
            });
            match schema {
                Schema::Api | Schema::Site => {
                    assert_eq!(ct, "application/json", "{label}: {body_text}");
                    assert!(
                        body["error"]["code"]
                            .as_str()
                            .is_some_and(|c| !c.is_empty())
                            && body["error"]["message"]
                                .as_str()
                                .is_some_and(|m| !m.is_empty()),
                        "{label}: not the error schema: {body_text}"
                    );
                }
                Schema::Cognito => {
                    assert!(
                        ct == "application/x-amz-json-1.1" || ct == "application/json",
                        "{label}: content-type {ct}"
                    );
                    assert!(
                        body["__type"].is_string() || body["error"]["code"].is_string(),
                        "{label}: not a Cognito error: {body_text}"
                    );
                }
            }
        } else if (200..300).contains(&r.status) && schema != Schema::Site && r.status != 204 {
            assert!(
                r.json().is_some(),
                "{label}: a success that is not JSON: {body_text:?}"
            );
        }
        let refused = !(200..300).contains(&r.status);
        if check_store && (refused || req.method == "GET") {
            let now = self.store.snapshot().await;
            assert!(
                now == self.baseline,
                "{label}: answered {} but the stored data changed:{}",
                r.status,
                describe_change(&self.baseline, &now)
            );
        }
        if refused {
            Outcome::Refused
        } else {
            Outcome::Accepted(r)
        }
    }

    /// After an accepted write: exactly one new row in `table` whose
    /// `column` holds `sent`; then remove it, leaving the baseline.
    async fn accepted_create(&mut self, label: &str, table: &str, column: &str, sent: &Json) {
        let now = self.store.snapshot().await;
        let new = added(&self.baseline, &now);
        assert!(
            new.len() == 1 && new[0].0 == table,
            "{}: {label}: accepted, expected one new {table} row:{}",
            self.label,
            describe_change(&self.baseline, &now)
        );
        let row = &new[0].1;
        assert!(
            row.get(column).is_some_and(|v| same(v, sent)),
            "{}: {label}: stored {column} differs from what was sent: {:?}",
            self.label,
            row.get(column)
        );
        let t = self.store.table(table).clone();
        let key = row[&t.key].clone();
        assert!(self.store.engine.delete(&t, &key).await.expect("delete"));
        let restored = self.store.snapshot().await;
        assert!(
            restored == self.baseline,
            "{}: {label}: not restored:{}",
            self.label,
            describe_change(&self.baseline, &restored)
        );
    }
}

/// A valid value of a column, for the parts of a request not under test.
fn sample(ty: ColumnType, allowed: Option<&Vec<Json>>, n: i64) -> Json {
    if let Some(first) = allowed.and_then(|a| a.first()) {
        return first.clone();
    }
    match ty {
        ColumnType::String { .. } | ColumnType::Text => json!("ok"),
        ColumnType::Integer | ColumnType::BigInt => json!(n),
        ColumnType::Float => json!(1.5),
        ColumnType::Boolean => json!(true),
        ColumnType::Timestamp => json!("2024-05-01T12:00:00Z"),
        ColumnType::Json => json!({"a": 1}),
        ColumnType::Decimal { .. } => json!(n.to_string()),
        ColumnType::Date => json!("2024-05-01"),
        ColumnType::Uuid => json!(format!("00000000-0000-4000-8000-{n:012}")),
    }
}

fn text_of(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `{name}` segments of a path template.
fn path_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_string)
        .collect()
}

fn fill_path(template: &str, values: &[(String, String)]) -> String {
    let mut out = template.to_string();
    for (name, v) in values {
        out = out.replace(&format!("{{{name}}}"), v);
    }
    out
}

/// The query parameters a route declares, each with a valid value (None:
/// optional, left out of the base request).
fn declared_query(route: &Route, key: &str) -> Vec<(String, Option<String>)> {
    match &route.operation {
        Operation::Get {
            key: KeySource::Query(q),
            ..
        }
        | Operation::Update {
            key: KeySource::Query(q),
            ..
        }
        | Operation::Delete {
            key: KeySource::Query(q),
            ..
        } => vec![(q.clone(), Some(key.to_string()))],
        Operation::List(l) => {
            let mut out: Vec<(String, Option<String>)> =
                l.filters.iter().map(|f| (f.param.clone(), None)).collect();
            if let Some(nf) = &l.named_filter {
                out.push((nf.param.clone(), None));
                out.push((nf.value_param.clone(), None));
            }
            out.push(("limit".into(), None));
            out.push(("cursor".into(), None));
            out
        }
        _ => Vec::new(),
    }
}

/// The companion value a named filter's other parameter needs.
fn companion(route: &Route, param: &str) -> Option<(String, String)> {
    let Operation::List(l) = &route.operation else {
        return None;
    };
    let nf = l.named_filter.as_ref()?;
    let (choice, column) = nf.choices.first()?;
    if param == nf.param {
        Some((nf.value_param.clone(), "x".into()))
    } else if param == nf.value_param {
        let _ = column;
        Some((nf.param.clone(), choice.clone()))
    } else {
        None
    }
}

fn query_string(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let joined: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k.as_bytes()), enc(v.as_bytes())))
        .collect();
    format!("?{}", joined.join("&"))
}

async fn corpus_against(engine: TestEngine, example_name: &str) {
    let started = std::time::Instant::now();
    // A copy: the user pool writes its outbox into the stack folder. Its
    // pacing of `/auth/` per client is lifted, or most of the corpus would
    // meet the 429 instead of the pool.
    let stack_dir = TempStack::copy_of(example_name, |s| {
        format!("{s}\n[server]\nauth_requests_per_minute = 1000000\n")
    });
    let app = TestApp::spawn_on(engine, stack_dir.path()).await;
    let stack = stackwright_stack::load(stack_dir.path()).expect("stack");
    let port: u16 = app.url.rsplit(':').next().unwrap().parse().unwrap();
    let token = match stack.users {
        Some(_) => Some(signed_in_token(&app.client, &app.url, stack_dir.path()).await),
        None => None,
    };
    let store = Store::open(&app, &stack).await;
    let baseline = store.snapshot().await;
    let mut run = Run {
        port,
        store,
        baseline,
        token,
        requests: 0,
        label: format!("{example_name} on {engine:?}"),
    };
    let mut lap = std::time::Instant::now();
    let mut timings = Vec::new();
    for route in &stack.routes {
        run.store.focus = route.operation.table().map(|t| vec![t.to_string()]);
        route_corpus(&mut run, &stack, route).await;
        run.check_all().await;
        timings.push(format!("{}: {:.1?}", route.label(), lap.elapsed()));
        lap = std::time::Instant::now();
    }
    // Redshift has no local queue (SQS feeds it): its topics are tried on AWS.
    let queues = run.store.engine.queues_locally();
    for name in stack.topics.keys().filter(|_| queues) {
        run.store.focus = Some(
            stack
                .subscriptions_of(name)
                .map(|s| s.table.clone())
                .collect(),
        );
        topic_corpus(&mut run, &stack, name).await;
        run.check_all().await;
        timings.push(format!("topic {name}: {:.1?}", lap.elapsed()));
        lap = std::time::Instant::now();
    }
    if stack.users.is_some() {
        run.store.focus = Some(Users::tables().into_iter().map(|t| t.name).collect());
        auth_corpus(&mut run).await;
        run.check_all().await;
        timings.push(format!("/auth/: {:.1?}", lap.elapsed()));
        lap = std::time::Instant::now();
    }
    if let Some(site) = &stack.site {
        site_corpus(&mut run, &site.path).await;
        timings.push(format!("site: {:.1?}", lap.elapsed()));
    }
    let end = run.store.snapshot().await;
    assert!(
        end == run.baseline,
        "{}: stored data changed over the run:{}",
        run.label,
        describe_change(&run.baseline, &end)
    );
    eprintln!(
        "{}: {} requests in {:.1?} ({})",
        run.label,
        run.requests,
        started.elapsed(),
        timings.join(", ")
    );
}

async fn route_corpus(run: &mut Run, stack: &Stack, route: &Route) {
    let method = route.method.as_str();
    let table = route.operation.table().map(|t| stack.table(t).clone());
    // A key that exists, and one of the right type that does not.
    let (key, missing_key) = match &table {
        Some(t) => {
            let rows = &run
                .baseline
                .tables
                .iter()
                .find(|(n, _)| *n == t.name)
                .expect("table")
                .1;
            let key = rows
                .first()
                .map(|r| text_of(&r[&t.key]))
                .unwrap_or_else(|| "1".into());
            let missing = match t.key_column().ty {
                ColumnType::Integer | ColumnType::BigInt => "987654".to_string(),
                _ => "00000000-0000-4000-8000-00000000dead".to_string(),
            };
            (key, missing)
        }
        None => ("1".into(), "1".into()),
    };
    let params = path_params(&route.path);
    let path_for = |value: &str| {
        let values: Vec<(String, String)> = params
            .iter()
            .map(|p| (p.clone(), enc(value.as_bytes())))
            .collect();
        fill_path(&route.path, &values)
    };
    let base_path = path_for(&key);
    let missing_path = path_for(&missing_key);
    let declared = declared_query(route, &key);
    let base_query: Vec<(String, String)> = declared
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
        .collect();
    let (input, creates) = match &route.operation {
        Operation::Create { input, .. } => (input.clone(), true),
        Operation::Update { input, .. } => (input.clone(), false),
        _ => (Vec::new(), false),
    };
    let takes_body = !input.is_empty();
    let auth = |mut req: Req, token: &Option<String>| {
        if route.auth == stackwright_stack::Auth::User {
            if let Some(t) = token {
                req = req.header("Authorization", format!("Bearer {t}"));
            }
        }
        req
    };
    // A valid body: every non-generated input field.
    let base_body = |t: &Table| -> Vec<(String, String)> {
        input
            .iter()
            .filter(|f| !t.columns[&f.column].generated)
            .map(|f| {
                let c = &t.columns[&f.column];
                (
                    f.api.clone(),
                    sample(c.ty, c.allowed.as_ref(), 7).to_string(),
                )
            })
            .collect()
    };
    let body_text = |fields: &[(String, String)]| -> String {
        let parts: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}:{v}", json!(k)))
            .collect();
        format!("{{{}}}", parts.join(","))
    };
    let base_req = |target: String, token: &Option<String>| {
        let mut req = Req::new(method, target);
        if takes_body {
            let t = table.as_ref().expect("a body route has a table");
            req = req.json(body_text(&base_body(t)));
        }
        auth(req, token)
    };
    let writes = method != "GET";
    let token = run.token.clone();

    // The corpus, plus near misses of stored values (trailing space, case,
    // LIKE wildcards): a lookup must match exactly.
    let mut corpus: Vec<(String, String)> = TEXT
        .iter()
        .map(|(c, v)| (c.to_string(), v.to_string()))
        .collect();
    if let Some(t) = &table {
        let rows = run.baseline.rows(&t.name);
        let mut near: Vec<String> = Vec::new();
        if matches!(
            t.key_column().ty,
            ColumnType::String { .. } | ColumnType::Text
        ) {
            near.push(key.clone());
        }
        if let Operation::List(l) = &route.operation {
            let columns = l.filters.iter().map(|f| f.column.clone()).chain(
                l.named_filter
                    .iter()
                    .filter_map(|nf| nf.choices.first().map(|(_, c)| c.clone())),
            );
            near.extend(columns.filter_map(|c| rows.first().map(|r| text_of(&r[&c]))));
        }
        for v in near {
            let mut chars = v.chars();
            chars.next_back();
            for variant in [
                format!("{v} "),
                format!(" {v}"),
                format!("{v}\t"),
                v.to_uppercase(),
                v.to_lowercase(),
                format!("{}_", chars.as_str()),
                format!("{}%", chars.as_str()),
                format!("{v}\u{301}"),
            ] {
                if variant != v {
                    corpus.push(("near miss".into(), variant));
                }
            }
        }
    }

    for (category, value) in &corpus {
        let value = value.as_str();
        let what = format!("{category} {value:?}");
        // Each path parameter.
        for p in &params {
            let values: Vec<(String, String)> = params
                .iter()
                .map(|q| {
                    let v = if q == p { value } else { key.as_str() };
                    (q.clone(), enc(v.as_bytes()))
                })
                .collect();
            let target = fill_path(&route.path, &values) + &query_string(&base_query);
            let out = run
                .send(
                    base_req(target, &token),
                    Schema::Api,
                    &format!("path {p}: {what}"),
                    writes,
                )
                .await;
            check_read(run, stack, route, p, value, &out);
            check_accepted(run, route, &what, out, creates).await;
        }
        // Each declared query parameter (a named filter's pair together).
        for (name, _) in &declared {
            let mut q: Vec<(String, String)> = base_query
                .iter()
                .filter(|(k, _)| k != name)
                .cloned()
                .collect();
            q.push((name.clone(), value.to_string()));
            if let Some(c) = companion(route, name) {
                q.push(c);
            }
            let target = base_path.clone() + &query_string(&q);
            let out = run
                .send(
                    base_req(target, &token),
                    Schema::Api,
                    &format!("query {name}: {what}"),
                    writes,
                )
                .await;
            check_read(run, stack, route, name, value, &out);
            check_accepted(run, route, &what, out, creates).await;
        }
        // An undeclared query parameter, by value and by name: refused
        // before anything is done (the key is a real one). Health routes
        // read nothing, so they ignore the query.
        for q in [
            vec![("x".to_string(), value.to_string())],
            vec![(value.to_string(), "1".to_string())],
        ] {
            let mut pairs = base_query.clone();
            pairs.extend(q);
            let target = base_path.clone() + &query_string(&pairs);
            let out = run
                .send(
                    base_req(target, &token),
                    Schema::Api,
                    &format!("extra query: {what}"),
                    writes,
                )
                .await;
            assert!(
                out == Outcome::Refused || table.is_none(),
                "{}: {method} {}: an unknown query parameter is accepted ({what})",
                run.label,
                route.path
            );
        }
        // Each body field, as a JSON string.
        if let (true, Some(t)) = (takes_body, &table) {
            for f in &input {
                let mut fields = base_body(t);
                fields.retain(|(k, _)| k != &f.api);
                let sent = Json::String(value.to_string());
                fields.push((f.api.clone(), sent.to_string()));
                let target = base_path.clone() + &query_string(&base_query);
                let req = auth(Req::new(method, target).json(body_text(&fields)), &token);
                let what = format!("field {}: {what}", f.api);
                let out = run.send(req, Schema::Api, &what, true).await;
                if let Outcome::Accepted(r) = out {
                    assert!(creates, "{}: {what}: accepted by {method}", run.label);
                    check_response_field(run, &what, &r, &f.api, &sent);
                    run.accepted_create(&what, &t.name, &f.column, &sent).await;
                }
            }
        }
        // The whole body, on a route that takes none: with a missing key so
        // that an ignored body cannot change a real row.
        if !takes_body && writes {
            let target = missing_path.clone() + &query_string(&base_query);
            let req = auth(
                Req::new(method, target).json(json!(value).to_string()),
                &token,
            );
            run.send(req, Schema::Api, &format!("body: {what}"), true)
                .await;
        }
    }

    // JSON values of every type in each body field.
    if let (true, Some(t)) = (takes_body, &table) {
        for (category, raw) in JSON_VALUES {
            for f in &input {
                let mut fields = base_body(t);
                fields.retain(|(k, _)| k != &f.api);
                fields.push((f.api.clone(), raw.to_string()));
                let target = base_path.clone() + &query_string(&base_query);
                let req = auth(Req::new(method, target).json(body_text(&fields)), &token);
                let what = format!("field {}: {category} {raw}", f.api);
                if let Outcome::Accepted(r) = run.send(req, Schema::Api, &what, true).await {
                    assert!(creates, "{}: {what}: accepted by {method}", run.label);
                    let sent: Json = serde_json::from_str(raw).expect("valid JSON");
                    check_response_field(run, &what, &r, &f.api, &sent);
                    run.accepted_create(&what, &t.name, &f.column, &sent).await;
                }
            }
        }
    }

    // Whole bodies: malformed, duplicate keys, deep nesting, bad bytes.
    let first_field = input.first().map_or("title", |f| f.api.as_str());
    let body_path = if takes_body {
        base_path.clone()
    } else {
        missing_path.clone()
    };
    if writes {
        for (what, body) in whole_bodies(first_field) {
            let target = body_path.clone() + &query_string(&base_query);
            let req = auth(Req::new(method, target).json(body), &token);
            let out = run
                .send(req, Schema::Api, &format!("whole body: {what}"), true)
                .await;
            if takes_body {
                assert_eq!(
                    out,
                    Outcome::Refused,
                    "{}: {method} {}: whole body {what} accepted",
                    run.label,
                    route.path
                );
            }
        }
        // A valid body with one string field twice: which one counts
        // depends on the parser, so it is refused.
        if let (true, Some(t)) = (takes_body, &table) {
            let string_field = input.iter().find(|f| {
                let c = &t.columns[&f.column];
                !c.generated && matches!(c.ty, ColumnType::String { .. } | ColumnType::Text)
            });
            if let Some(f) = string_field {
                let mut fields = base_body(t);
                fields.push((f.api.clone(), json!("b").to_string()));
                let target = base_path.clone() + &query_string(&base_query);
                let req = auth(Req::new(method, target).json(body_text(&fields)), &token);
                let what = format!("duplicate key {}", f.api);
                let out = run.send(req, Schema::Api, &what, true).await;
                assert_eq!(out, Outcome::Refused, "{}: {what} accepted", run.label);
            }
        }
        // Wrong and missing content types.
        if takes_body {
            let t = table.as_ref().unwrap();
            for ct in [
                "text/html",
                "multipart/form-data; boundary=x",
                "application/xml",
                "\u{1}",
            ] {
                let target = base_path.clone() + &query_string(&base_query);
                let mut req = Req::new(method, target).header("Content-Type", ct);
                req.body = Some(body_text(&base_body(t)).into_bytes());
                let req = auth(req, &token);
                run.send(req, Schema::Api, &format!("content type {ct:?}"), true)
                    .await;
            }
        }
    }

    // Oversized and malformed parts, once per route.
    let oversized_string = "x".repeat(1024 * 1024 + 16);
    let target = body_path.clone() + &query_string(&base_query);
    let big = format!(r#"{{"{first_field}":"{oversized_string}"}}"#);
    let r = run
        .send(
            auth(Req::new(method, target).json(big), &token),
            Schema::Api,
            "a body over the limit",
            writes,
        )
        .await;
    if takes_body {
        assert_eq!(
            r,
            Outcome::Refused,
            "{}: oversized body accepted",
            run.label
        );
    }
    // Strings of 64 KiB (over MySQL's TEXT) and 900 KiB (over a DynamoDB
    // item, under the body limit): stored whole or refused as 4xx.
    if let (true, Some(t)) = (takes_body, &table) {
        for (f, size) in input.iter().flat_map(|f| [(f, 64 * 1024), (f, 900 * 1024)]) {
            let mut fields = base_body(t);
            fields.retain(|(k, _)| k != &f.api);
            let sent = Json::String("y".repeat(size));
            fields.push((f.api.clone(), sent.to_string()));
            let target = base_path.clone() + &query_string(&base_query);
            let req = auth(Req::new(method, target).json(body_text(&fields)), &token);
            let what = format!("field {}: {} KiB string", f.api, size / 1024);
            if let Outcome::Accepted(r) = run.send(req, Schema::Api, &what, true).await {
                check_response_field(run, &what, &r, &f.api, &sent);
                run.accepted_create(&what, &t.name, &f.column, &sent).await;
            }
        }
    }
    let mut specials: Vec<(String, Vec<u8>)> = Vec::new();
    if !params.is_empty() {
        specials.push((
            "a 16 KiB path segment".into(),
            path_for(&"z".repeat(16 * 1024)).into_bytes(),
        ));
        specials.push((
            "10^30 in the path".into(),
            path_for("1000000000000000000000000000000").into_bytes(),
        ));
        specials.push((
            "a UTF-8 encoded surrogate in the path".into(),
            path_for("\u{1}").replace("%01", "%ED%A0%80").into_bytes(),
        ));
        specials.push((
            "percent-encoded invalid UTF-8 in the path".into(),
            fill_path(
                &route.path,
                &params
                    .iter()
                    .map(|p| (p.clone(), "%FF%FE".to_string()))
                    .collect::<Vec<_>>(),
            )
            .into_bytes(),
        ));
        let marked = fill_path(
            &route.path,
            &params
                .iter()
                .map(|p| (p.clone(), "RAWBYTES".to_string()))
                .collect::<Vec<_>>(),
        );
        specials.push((
            "raw invalid UTF-8 in the path".into(),
            marked
                .replace("RAWBYTES", "\u{1}")
                .into_bytes()
                .into_iter()
                .flat_map(|b| if b == 1 { vec![0xff, 0xfe] } else { vec![b] })
                .collect(),
        ));
        for raw in [
            "../../../../etc/passwd",
            "..%2f..%2f..%2fetc%2fpasswd",
            "%2e%2e%2f%2e%2e%2f",
            "x%00",
            "x%00.json",
            ".",
            "..",
            "%2e",
            "%2E%2E",
        ] {
            specials.push((
                format!("raw traversal {raw}"),
                fill_path(
                    &route.path,
                    &params
                        .iter()
                        .map(|p| (p.clone(), raw.to_string()))
                        .collect::<Vec<_>>(),
                )
                .into_bytes(),
            ));
        }
    }
    let with_base_query = |t: String| t + &query_string(&base_query);
    specials.push((
        "double slash".into(),
        with_base_query(format!("/{base_path}")).into_bytes(),
    ));
    specials.push((
        "percent-encoded invalid UTF-8 in the query".into(),
        format!("{base_path}?{}", {
            let mut q: Vec<String> = base_query
                .iter()
                .map(|(k, v)| format!("{}={}", enc(k.as_bytes()), enc(v.as_bytes())))
                .collect();
            q.push("x=%FF%FE".into());
            q.join("&")
        })
        .into_bytes(),
    ));
    for (name, _) in &declared {
        specials.push((
            format!("invalid UTF-8 in query {name}"),
            format!("{base_path}?{}=%FF%FE%C0%AF", enc(name.as_bytes())).into_bytes(),
        ));
        specials.push((
            format!("raw invalid UTF-8 in query {name}"),
            [
                format!("{base_path}?{}=", enc(name.as_bytes())).as_bytes(),
                b"\xff\xfe",
            ]
            .concat(),
        ));
        specials.push((
            format!("10^30 in query {name}"),
            format!(
                "{base_path}?{}=1000000000000000000000000000000",
                enc(name.as_bytes())
            )
            .into_bytes(),
        ));
        specials.push((
            format!("repeated query {name}"),
            format!("{base_path}?{0}=1&{0}=2", enc(name.as_bytes())).into_bytes(),
        ));
        specials.push((
            format!("broken encoding in query {name}"),
            format!("{base_path}?{}=%zz%", enc(name.as_bytes())).into_bytes(),
        ));
    }
    for (what, target) in specials {
        let mut req = Req::new(method, target);
        if takes_body {
            let t = table.as_ref().unwrap();
            req = req.json(body_text(&base_body(t)));
        }
        let out = run
            .send(auth(req, &token), Schema::Api, &what, writes)
            .await;
        check_accepted(run, route, &what, out, creates).await;
    }

    // Tokens: every route needing a user refuses junk credentials.
    if route.auth == stackwright_stack::Auth::User {
        for (category, value) in TEXT
            .iter()
            .take(12)
            .chain([("jwt", "eyJhbGciOiJub25lIn0.e30.")].iter())
        {
            let target = with_base_query(base_path.clone());
            let mut req = Req::new(method, target);
            if !value.contains(['\r', '\n', '\0']) {
                req = req.header("Authorization", format!("Bearer {value}"));
            }
            let out = run
                .send(
                    req,
                    Schema::Api,
                    &format!("token {category} {value:?}"),
                    true,
                )
                .await;
            assert_eq!(out, Outcome::Refused, "{}: junk token accepted", run.label);
        }
    }
    if !writes {
        let now = run.store.snapshot().await;
        assert!(
            now == run.baseline,
            "{}: a read changed the data",
            run.label
        );
    }
}

/// Equal values; numbers by value (`-0.0` is the integer 0).
fn same(a: &Json, b: &Json) -> bool {
    a == b || matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if x == y)
}

/// The answer's field (when the route answers with the row) is what was sent.
fn check_response_field(run: &Run, what: &str, r: &Raw, api: &str, sent: &Json) {
    if let Some(body) = r.json() {
        if let Some(got) = body.get(api) {
            assert!(
                same(got, sent),
                "{}: {what}: the answer differs: {got} != {sent}",
                run.label
            );
        }
    }
}

/// A read answered 2xx for an injected key or filter value: it found only
/// rows holding exactly that value.
fn check_read(run: &Run, stack: &Stack, route: &Route, param: &str, value: &str, out: &Outcome) {
    let Outcome::Accepted(r) = out else {
        return;
    };
    let Some(body) = r.json() else {
        return;
    };
    let same_key = |stored: &Json| match stored {
        Json::String(s) => s == value,
        Json::Number(n) => {
            value.parse::<i64>().ok() == n.as_i64() && n.as_i64().is_some()
                || value.parse::<f64>().ok() == n.as_f64()
        }
        other => serde_json::from_str::<Json>(value).ok().as_ref() == Some(other),
    };
    match &route.operation {
        Operation::Get { table, key } if key.param() == param => {
            let t = stack.table(table);
            assert!(
                run.baseline
                    .rows(table)
                    .iter()
                    .any(|row| same_key(&row[&t.key])),
                "{}: {} {}: {param} = {value:?} answered {} with {body}, but no row has exactly this key",
                run.label,
                route.method.as_str(),
                route.path,
                r.status
            );
        }
        Operation::List(l) => {
            let column = l
                .filters
                .iter()
                .find(|f| f.param == param)
                .map(|f| f.column.clone())
                .or_else(|| {
                    l.named_filter
                        .as_ref()
                        .filter(|nf| nf.value_param == param)
                        .and_then(|nf| nf.choices.first().map(|(_, c)| c.clone()))
                });
            let Some(api) = column.and_then(|c| {
                route
                    .response
                    .fields
                    .iter()
                    .find(|f| f.column == c)
                    .map(|f| f.api.clone())
            }) else {
                return;
            };
            let items = match &route.response.wrap {
                Some(w) => body[w].clone(),
                None => body.clone(),
            };
            for item in items.as_array().into_iter().flatten() {
                assert!(
                    same_key(&item[&api]),
                    "{}: {} {}: {param} = {value:?} listed {item}",
                    run.label,
                    route.method.as_str(),
                    route.path
                );
            }
        }
        _ => {}
    }
}

/// An accepted request outside a body-field injection: a create stores a
/// row (undone here); anything else may only have read.
async fn check_accepted(run: &mut Run, route: &Route, what: &str, out: Outcome, creates: bool) {
    if let Outcome::Accepted(_) = out {
        let now = run.store.snapshot().await;
        if creates && now != run.baseline {
            // The valid base body was stored; nothing injected was in it.
            let new = added(&run.baseline, &now);
            assert_eq!(new.len(), 1, "{}: {what}", run.label);
            let t = run.store.table(&new[0].0).clone();
            let key = new[0].1[&t.key].clone();
            run.store.engine.delete(&t, &key).await.expect("delete");
            let restored = run.store.snapshot().await;
            assert!(
                restored == run.baseline,
                "{}: {what}: not restored",
                run.label
            );
        } else {
            assert!(
                now == run.baseline,
                "{}: {} {}: {what}: accepted and changed the data:{}",
                run.label,
                route.method.as_str(),
                route.path,
                describe_change(&run.baseline, &now)
            );
        }
    }
}

/// The key of the one row of `table` that the baseline lacks, once a
/// subscription has delivered it (Null if it never does).
async fn delivered_key(run: &Run, table: &Table) -> Json {
    for _ in 0..250 {
        let now = run.store.snapshot().await;
        let rows = |snap: &Snapshot| {
            snap.tables
                .iter()
                .find(|(name, _)| *name == table.name)
                .map(|(_, rows)| rows.clone())
                .unwrap_or_default()
        };
        let before = rows(&run.baseline);
        if let Some(new) = rows(&now).into_iter().find(|r| !before.contains(r)) {
            return new.get(&table.key).cloned().unwrap_or(Json::Null);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Json::Null
}

/// `POST /topics/NAME`: each field, whole bodies; an accepted message is
/// delivered with exactly the sent value, then undone.
async fn topic_corpus(run: &mut Run, stack: &Stack, name: &str) {
    let topic = &stack.topics[name];
    let path = format!("/topics/{name}");
    let mut next_id = 900_000i64;
    let base = |n: &mut i64| -> serde_json::Map<String, Json> {
        *n += 1;
        topic
            .fields
            .iter()
            .map(|(f, c)| (f.clone(), sample(c.ty, c.allowed.as_ref(), *n)))
            .collect()
    };
    let subs: Vec<_> = stack.subscriptions_of(name).cloned().collect();
    let mut values: Vec<(String, Json)> = TEXT
        .iter()
        .map(|(c, v)| (format!("{c} {v:?}"), Json::String(v.to_string())))
        .collect();
    values.extend(JSON_VALUES.iter().filter_map(|(c, raw)| {
        serde_json::from_str::<Json>(raw)
            .ok()
            .map(|v| (format!("{c} {raw}"), v))
    }));
    for (what, value) in &values {
        for field in topic.fields.keys() {
            let mut message = base(&mut next_id);
            message.insert(field.clone(), value.clone());
            let what = format!("topic {name} field {field}: {what}");
            let req =
                Req::new("POST", path.clone()).json(Json::Object(message.clone()).to_string());
            if let Outcome::Accepted(_) = run.send(req, Schema::Api, &what, true).await {
                // Delivered to each subscription's table: find the row by key.
                for sub in &subs {
                    let t = run.store.table(&sub.table).clone();
                    let key = match sub.map.iter().find(|(c, _)| *c == t.key) {
                        // As the topic stores it: an integral number is an integer.
                        Some((_, key_field)) => match &message[key_field] {
                            Json::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => n
                                .as_i64()
                                .map_or_else(|| json!(n.as_f64().unwrap() as i64), Json::from),
                            other => other.clone(),
                        },
                        // A generated key: the row the baseline lacks.
                        None => delivered_key(run, &t).await,
                    };
                    let mut row = None;
                    for _ in 0..1000 {
                        row = run.store.engine.get(&t, &key).await.expect("get");
                        if row.is_some() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    let snap = run.store.snapshot().await;
                    let row = row.unwrap_or_else(|| {
                        panic!(
                            "{}: {what}: accepted but never delivered:{}",
                            run.label,
                            describe_change(&run.baseline, &snap)
                        )
                    });
                    let column = sub
                        .map
                        .iter()
                        .find(|(_, f)| f == field)
                        .map(|(c, _)| c.clone())
                        .expect("mapped field");
                    assert!(
                        row.get(&column).is_some_and(|v| same(v, value)),
                        "{}: {what}: delivered a different value: {:?}",
                        run.label,
                        row.get(&column)
                    );
                    // Wait for the queue to settle, then undo.
                    for _ in 0..100 {
                        if run
                            .store
                            .engine
                            .require_queue()
                            .expect("a queue")
                            .queued(&sub.name)
                            .await
                            .expect("queued")
                            == 0
                        {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    assert!(run.store.engine.delete(&t, &key).await.expect("delete"));
                }
                let now = run.store.snapshot().await;
                assert!(
                    now == run.baseline,
                    "{}: {what}: not restored:{}",
                    run.label,
                    describe_change(&run.baseline, &now)
                );
            }
        }
    }
    let first = topic.fields.keys().next().expect("a field").clone();
    for (what, body) in whole_bodies(&first) {
        let req = Req::new("POST", path.clone()).json(body);
        let out = run
            .send(
                req,
                Schema::Api,
                &format!("topic {name}: whole body {what}"),
                true,
            )
            .await;
        assert_eq!(
            out,
            Outcome::Refused,
            "{}: topic body {what} accepted",
            run.label
        );
    }
    let text_field = topic
        .fields
        .iter()
        .find(|(_, c)| matches!(c.ty, ColumnType::String { .. } | ColumnType::Text))
        .map(|(n, _)| n.clone());
    if let Some(f) = text_field {
        let message = Json::Object(base(&mut next_id)).to_string();
        let duplicated = format!("{},{}:\"b\"}}", &message[..message.len() - 1], json!(f));
        let req = Req::new("POST", path.clone()).json(duplicated);
        let what = format!("topic {name}: duplicate key {f}");
        let out = run.send(req, Schema::Api, &what, true).await;
        assert_eq!(out, Outcome::Refused, "{}: {what} accepted", run.label);
    }
    let big = format!(r#"{{"{first}":"{}"}}"#, "x".repeat(1024 * 1024 + 16));
    let out = run
        .send(
            Req::new("POST", path.clone()).json(big),
            Schema::Api,
            "topic: oversized",
            true,
        )
        .await;
    assert_eq!(out, Outcome::Refused);
    for (category, value) in TEXT.iter().take(20) {
        if value.is_empty() || value.contains(['\r', '\n', '\0']) {
            continue;
        }
        let mut message = base(&mut next_id);
        message.insert(first.clone(), Json::Null);
        let req = Req::new("POST", path.clone())
            .header("Idempotency-Key", value.as_bytes())
            .json(Json::Object(message).to_string());
        run.send(
            req,
            Schema::Api,
            &format!("topic: idempotency key {category} {value:?}"),
            true,
        )
        .await;
    }
}

/// The user pool's Cognito endpoint: each field of each operation.
async fn auth_corpus(run: &mut Run) {
    let ops: [(&str, Json); 4] = [
        (
            "SignUp",
            json!({"ClientId": "local", "Username": "a@example.com", "Password": "Correct-Horse-9"}),
        ),
        (
            "ConfirmSignUp",
            json!({"ClientId": "local", "Username": "injector@example.com", "ConfirmationCode": "123456"}),
        ),
        (
            "InitiateAuth",
            json!({"ClientId": "local", "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": {"USERNAME": "injector@example.com", "PASSWORD": "x"}}),
        ),
        ("GlobalSignOut", json!({"AccessToken": "x"})),
    ];
    let mut values: Vec<(String, Json)> = TEXT
        .iter()
        .map(|(c, v)| (format!("{c} {v:?}"), Json::String(v.to_string())))
        .collect();
    values.extend(TEXT.iter().take(17).map(|(c, v)| {
        (
            format!("{c} e-mail {v:?}"),
            Json::String(format!("{v}@example.com")),
        )
    }));
    values.extend(JSON_VALUES.iter().filter_map(|(c, raw)| {
        serde_json::from_str::<Json>(raw)
            .ok()
            .map(|v| (format!("{c} {raw}"), v))
    }));
    for (op, base) in &ops {
        let mut fields: Vec<Vec<&str>> = base
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, v)| v.is_string())
            .map(|(k, _)| vec![k.as_str()])
            .collect();
        if let Some(params) = base.get("AuthParameters").and_then(Json::as_object) {
            fields.extend(params.keys().map(|k| vec!["AuthParameters", k.as_str()]));
        }
        for field in &fields {
            let name = *field.last().expect("a field");
            // Fields that select (client, flow) take the SQL values only;
            // e-mail shaped values go where an e-mail is expected.
            let selector = matches!(name, "ClientId" | "AuthFlow");
            let username = matches!(name, "Username" | "USERNAME");
            // A password is hashed (slow by design): fewer of those.
            let password = matches!(name, "Password" | "PASSWORD");
            for (i, (what, value)) in values.iter().enumerate() {
                let email = what.contains(" e-mail ");
                if ((selector || password) && i >= 17) || (email && !username) {
                    continue;
                }
                let mut body = base.clone();
                match field.as_slice() {
                    [f] => body[*f] = value.clone(),
                    [a, b] => body[*a][*b] = value.clone(),
                    _ => unreachable!(),
                }
                let req = Req::new("POST", "/auth/")
                    .header(
                        "X-Amz-Target",
                        format!("AWSCognitoIdentityProviderService.{op}"),
                    )
                    .header("Content-Type", "application/x-amz-json-1.1");
                let mut req = req;
                req.body = Some(body.to_string().into_bytes());
                let what = format!("auth {op} {}: {what}", field.join("."));
                if let Outcome::Accepted(_) = run.send(req, Schema::Cognito, &what, true).await {
                    // Only a sign-up may add something: a user with that name.
                    assert_eq!(*op, "SignUp", "{}: {what}: accepted", run.label);
                    let now = run.store.snapshot().await;
                    let new = added(&run.baseline, &now);
                    assert_eq!(new.len(), 1, "{}: {what}", run.label);
                    let sent = body["Username"].as_str().unwrap().to_lowercase();
                    assert_eq!(new[0].1["username"], json!(sent), "{}: {what}", run.label);
                    let t = run.store.table(&new[0].0).clone();
                    let key = new[0].1[&t.key].clone();
                    run.store.engine.delete(&t, &key).await.expect("delete");
                    let restored = run.store.snapshot().await;
                    assert!(
                        restored == run.baseline,
                        "{}: {what}: not restored",
                        run.label
                    );
                }
            }
        }
        for (what, bytes) in whole_bodies("Username") {
            let mut req = Req::new("POST", "/auth/")
                .header(
                    "X-Amz-Target",
                    format!("AWSCognitoIdentityProviderService.{op}"),
                )
                .header("Content-Type", "application/x-amz-json-1.1");
            req.body = Some(bytes);
            let out = run
                .send(
                    req,
                    Schema::Cognito,
                    &format!("auth {op}: whole body {what}"),
                    true,
                )
                .await;
            assert_eq!(
                out,
                Outcome::Refused,
                "{}: auth {op}: {what} accepted",
                run.label
            );
        }
    }
    for (category, value) in TEXT {
        if value.contains(['\r', '\n', '\0']) {
            continue;
        }
        let req = Req::new("POST", "/auth/")
            .header("X-Amz-Target", value.as_bytes())
            .json("{}");
        run.send(
            req,
            Schema::Cognito,
            &format!("auth target {category} {value:?}"),
            true,
        )
        .await;
    }
    let mut req = Req::new("POST", "/auth/")
        .header("X-Amz-Target", "AWSCognitoIdentityProviderService.SignUp");
    req.body = Some(format!(r#"{{"Username":"{}"}}"#, "x".repeat(1024 * 1024)).into_bytes());
    run.send(req, Schema::Cognito, "auth: oversized", true)
        .await;
    for target in [
        "/auth/.well-known/jwks.json/../../../etc/passwd",
        "/auth/.well-known/%2e%2e/jwks.json",
        "/auth/%00",
    ] {
        run.send(
            Req::new("GET", target),
            Schema::Api,
            "auth: traversal",
            true,
        )
        .await;
    }
}

/// The static site: traversal and odd paths find nothing outside the folder.
async fn site_corpus(run: &mut Run, site_path: &str) {
    let prefix = site_path.trim_end_matches('/');
    let mut targets: Vec<Vec<u8>> = Vec::new();
    for (_, value) in TEXT {
        targets.push(format!("{prefix}/{}", enc(value.as_bytes())).into_bytes());
    }
    for raw in [
        "/../../../../etc/passwd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2e%2e%2f%2e%2e%2fstackwright.toml",
        "/../stackwright.toml",
        "/..%2fstackwright.toml",
        "/.stackwright/outbox.jsonl",
        "/%2estackwright/outbox.jsonl",
        "/index.html%00.png",
        "/index.html/",
        "//etc/passwd",
        "/%5c..%5c..%5cstackwright.toml",
        "/%FF%FE",
        "/a%zz",
    ] {
        targets.push(format!("{prefix}{raw}").into_bytes());
    }
    targets.push([prefix.as_bytes(), b"/\xff\xfe"].concat());
    targets.push(format!("{prefix}/{}", "z".repeat(16 * 1024)).into_bytes());
    for target in targets {
        let label = String::from_utf8_lossy(&target).into_owned();
        let out = run
            .send(
                Req::new("GET", target),
                Schema::Site,
                &format!("site {label}"),
                false,
            )
            .await;
        if let Outcome::Accepted(r) = out {
            let body = String::from_utf8_lossy(&r.body);
            assert!(
                !body.contains("root:") && !body.contains("[tables") && !body.contains("\"code\":"),
                "{}: site {label}: served something outside the site: {}",
                run.label,
                &body[..body.len().min(200)]
            );
        }
    }
}

async fn todo(engine: TestEngine) {
    corpus_against(engine, "todo").await
}

async fn pets(engine: TestEngine) {
    corpus_against(engine, "pets").await
}

async fn mysfits(engine: TestEngine) {
    corpus_against(engine, "mysfits").await
}

async fn clients(engine: TestEngine) {
    corpus_against(engine, "clients").await
}

on_every_engine!(todo, pets, mysfits, clients);
