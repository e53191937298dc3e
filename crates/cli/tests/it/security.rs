//! The holes a security review found with live probes, each closed and
//! shown here against the real server: guessing races, memory exhaustion
//! through sign-in, slow bodies and connection floods, links in the site,
//! revoked and deleted users' tokens, user existence, look-alike names,
//! shared idempotency keys, cross-site bodies, DNS rebinding, and the
//! local state's file modes.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::harness::{on_every_engine, Served, TempStack, TestApp, TestEngine};
use crate::users::{code_for, cognito, get_with, notes, sign_in_body};

const PASSWORD: &str = "Correct-Horse-9";

/// Sign `email` up and confirm it with the code from the outbox.
async fn registered(app: &TestApp, stack: &TempStack, email: &str) {
    let (status, r) = cognito(
        app,
        "SignUp",
        json!({"ClientId": "local", "Username": email, "Password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let confirm =
        json!({"ClientId": "local", "Username": email, "ConfirmationCode": code_for(stack, email)});
    assert_eq!(cognito(app, "ConfirmSignUp", confirm).await.0, 200);
}

/// (ID token, access token, refresh token) of a signed-in user.
async fn tokens(app: &TestApp, email: &str) -> (String, String, String) {
    let (status, r) = cognito(app, "InitiateAuth", sign_in_body(email, PASSWORD)).await;
    assert_eq!(status, 200, "{r}");
    let t = &r["AuthenticationResult"];
    let s = |k: &str| t[k].as_str().unwrap().to_string();
    (s("IdToken"), s("AccessToken"), s("RefreshToken"))
}

fn refresh_body(refresh: &str) -> Json {
    json!({"ClientId": "local", "AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": refresh}})
}

/// A TCP connection to `port` on 127.0.0.1 from another loopback address:
/// another client, as far as per-client limits can tell.
async fn connect_from(source: &str, port: u16) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(([127, 0, 0, 1], port).into()).await.unwrap()
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

/// Forty wrong guesses at once: only five are checked, the name is then
/// locked, and the right password is refused while it is. (Before: every
/// guess was checked before the first failure counted.) The right password
/// is sent after the wrong ones are answered: sent among them, it may take
/// its turn before the fifth failure, and a success rightly clears the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_concurrent_guesses_lock_the_name_after_five() {
    let stack = notes();
    let app = TestApp::spawn(stack.path()).await;
    registered(&app, &stack, "ana@example.com").await;
    let guess = |password: &'static str| {
        let (client, url) = (app.client.clone(), app.url.clone());
        tokio::spawn(async move {
            let body = sign_in_body("ana@example.com", password);
            crate::harness::cognito_call(&client, &url, "InitiateAuth", body).await
        })
    };
    let wrong: Vec<_> = (0..40).map(|_| guess("Wrong-Horse-1")).collect();
    let mut messages = Vec::new();
    for task in wrong {
        let (status, r) = task.await.unwrap();
        assert_eq!(status, 400, "{r}");
        messages.push(r["message"].as_str().unwrap().to_string());
    }
    let checked = messages
        .iter()
        .filter(|m| *m == "Incorrect username or password.")
        .count();
    let locked = messages
        .iter()
        .filter(|m| *m == "Password attempts exceeded")
        .count();
    assert_eq!((checked, locked), (5, 35), "{messages:?}");
    let (status, r) = guess(PASSWORD).await.unwrap();
    assert_eq!(status, 400, "the right password while locked: {r}");
    assert_eq!(r["message"], "Password attempts exceeded", "{r}");
}

/// Resident memory of a process, in bytes: (now, peak).
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap()
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A hundred sign-ins at once, for names that need not exist, each asking
/// for an Argon2 check of 19 MiB: the process stays under 200 MB, answers
/// every one (checked, or 503 with Retry-After beyond the queue), and
/// gives the memory back afterwards. (Before: 1.6 GB, kept.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_sign_ins_stay_under_200_mb() {
    let stack = notes();
    stack.write(
        "stackwright.toml",
        &format!(
            "{}\n[server]\nauth_requests_per_minute = 10000\n",
            std::fs::read_to_string(stack.path().join("stackwright.toml")).unwrap()
        ),
    );
    let db = stack.path().join("state.db");
    let server = Served::start(stack.path(), &format!("sqlite://{}", db.display()), &[]);
    let client = reqwest::Client::new();
    let url = server.url();
    let (status, _) = crate::harness::cognito_call(
        &client,
        &url,
        "InitiateAuth",
        sign_in_body("warm@example.com", "x"),
    )
    .await;
    assert_eq!(status, 400);
    let (before, _) = memory(server.child.id());

    let mut wave = Vec::new();
    for i in 0..100 {
        let (client, url) = (client.clone(), url.clone());
        wave.push(tokio::spawn(async move {
            let r = client
                .post(format!("{url}/auth/"))
                .header("Content-Type", "application/x-amz-json-1.1")
                .header(
                    "X-Amz-Target",
                    "AWSCognitoIdentityProviderService.InitiateAuth",
                )
                .body(sign_in_body(&format!("user{i}@example.com"), "Some-Password-1").to_string())
                .send()
                .await
                .unwrap();
            let retry = r.headers().get("retry-after").is_some();
            (r.status().as_u16(), retry)
        }));
    }
    let (mut checked, mut busy) = (0, 0);
    for task in wave {
        match task.await.unwrap() {
            (400, _) => checked += 1,
            (503, true) => busy += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert!(checked >= 10, "checked {checked}, busy {busy}");
    let (after, peak) = memory(server.child.id());
    const MB: u64 = 1024 * 1024;
    assert!(peak < 200 * MB, "peak resident memory {} MB", peak / MB);
    assert!(
        after < before + 40 * MB,
        "memory kept after the wave: {} MB before, {} MB after",
        before / MB,
        after / MB
    );
}

/// `/auth/` is paced per client address: beyond the budget, 429 with
/// Retry-After; another address is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_pool_is_paced_per_client() {
    let stack = notes();
    stack.write(
        "stackwright.toml",
        &format!(
            "{}\n[server]\nauth_requests_per_minute = 3\n",
            std::fs::read_to_string(stack.path().join("stackwright.toml")).unwrap()
        ),
    );
    let app = TestApp::spawn(stack.path()).await;
    for _ in 0..3 {
        let (status, _) = cognito(&app, "InitiateAuth", sign_in_body("a@example.com", "x")).await;
        assert_eq!(status, 400);
    }
    let r = app
        .client
        .post(format!("{}/auth/", app.url))
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "X-Amz-Target",
            "AWSCognitoIdentityProviderService.InitiateAuth",
        )
        .body(sign_in_body("a@example.com", "x").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    let body: Json = r.json().await.unwrap();
    assert_eq!(body["__type"], "TooManyRequestsException");
    // Another address has its own budget.
    let mut other = connect_from("127.0.0.2", port_of(&app.url)).await;
    let request = sign_in_body("a@example.com", "x").to_string();
    let raw = format!(
        "POST /auth/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: AWSCognitoIdentityProviderService.InitiateAuth\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{request}",
        request.len()
    );
    other.write_all(raw.as_bytes()).await.unwrap();
    let mut answer = String::new();
    other.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

/// 300 sockets from one address send headers and `{` and then nothing.
/// Their bodies are read before they take a request slot, so they hold
/// none, and requests from elsewhere are all served; at the body deadline
/// they are answered 408 and closed. (Before: each held a slot for the
/// whole request deadline and everyone else was shed.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_of_slow_bodies_does_not_shed_other_requests() {
    let stack = TempStack::copy_of("todo", |toml| {
        format!("{toml}\n[server]\nmax_concurrent_requests = 64\nmax_connections_per_client = 1000\nbody_timeout_seconds = 3\n")
    });
    let app = TestApp::spawn(stack.path()).await;
    let port = port_of(&app.url);
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut s = connect_from("127.0.0.2", port).await;
        s.write_all(b"POST /api/task/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
            .await
            .unwrap();
        slow.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..50 {
        let r = app.get("/api/task/").await;
        assert_eq!(r.status, 200, "request {i} during the wave: {}", r.body);
        let w = app.post("/api/task/", r#"{"title":"during"}"#).await;
        assert_eq!(w.status, 201, "write {i} during the wave: {}", w.body);
    }
    // The slow ones are cut off at the body deadline, with the JSON error.
    let mut first = slow.swap_remove(0);
    let mut raw = String::new();
    tokio::time::timeout(Duration::from_secs(10), first.read_to_string(&mut raw))
        .await
        .expect("cut off at the deadline")
        .unwrap();
    assert!(raw.starts_with("HTTP/1.1 408"), "{raw}");
    assert!(raw.contains("\"body_timeout\""), "{raw}");
}

/// One address may hold `max_connections_per_client` connections; the next
/// is answered 429 (JSON) and closed, while other addresses connect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_client_address_are_capped() {
    let stack = TempStack::copy_of("todo", |toml| {
        format!("{toml}\n[server]\nmax_connections_per_client = 8\n")
    });
    let app = TestApp::spawn(stack.path()).await;
    let port = port_of(&app.url);
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(connect_from("127.0.0.2", port).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut ninth = connect_from("127.0.0.2", port).await;
    let _ = ninth
        .write_all(b"GET /api/task/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    let mut raw = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), ninth.read_to_string(&mut raw)).await;
    assert!(raw.starts_with("HTTP/1.1 429"), "{raw:?}");
    assert!(raw.contains("too_many_connections"), "{raw}");
    assert_eq!(app.get("/api/task/").await.status, 200, "another address");
    // A closed connection frees its place.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = connect_from("127.0.0.2", port).await;
    again
        .write_all(b"GET /api/task/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = String::new();
    again.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
}

/// A link in the site folder (to a file or a folder outside it) is not
/// served; the files beside it are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_in_the_site_folder_are_not_served() {
    let stack = TempStack::copy_of("todo", |toml| toml);
    let site = stack.path().join("site");
    std::os::unix::fs::symlink("/etc/hostname", site.join("hostname.txt")).unwrap();
    std::os::unix::fs::symlink("/etc", site.join("etc")).unwrap();
    let app = TestApp::spawn(stack.path()).await;
    assert_eq!(
        app.client
            .get(format!("{}/index.html", app.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for path in ["/hostname.txt", "/etc/hostname", "/etc/passwd"] {
        let r = app
            .client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        assert!(
            status == 404 || !body.contains(hostname.trim()),
            "{path}: {status} {body}"
        );
        assert_ne!(status, 200, "{path}: {body}");
    }
}

/// Signing out everywhere, and deleting the user, end every token at once:
/// ID, access and refresh. A new sign-in after the sign-out works.
async fn revoked_and_deleted_users_tokens_answer_401(engine: TestEngine) {
    let stack = notes();
    let app = TestApp::spawn_on(engine, stack.path()).await;
    registered(&app, &stack, "ana@example.com").await;
    registered(&app, &stack, "bo@example.com").await;
    let (id, access, refresh) = tokens(&app, "ana@example.com").await;
    let (other_id, _, _) = tokens(&app, "ana@example.com").await;
    assert_eq!(get_with(&app, "/notes/1", Some(&id)).await, 200);

    let (status, _) = cognito(&app, "GlobalSignOut", json!({"AccessToken": access})).await;
    assert_eq!(status, 200);
    for token in [&id, &access, &other_id] {
        assert_eq!(get_with(&app, "/notes/1", Some(token)).await, 401);
    }
    let (_, r) = cognito(&app, "InitiateAuth", refresh_body(&refresh)).await;
    assert_eq!(r["__type"], "NotAuthorizedException", "{r}");
    // Signing in again right after works, within the same second too.
    let (fresh, _, _) = tokens(&app, "ana@example.com").await;
    assert_eq!(get_with(&app, "/notes/1", Some(&fresh)).await, 200);

    // Deleted: its tokens stop at once; another user's keep working.
    let (bo, _, bo_refresh) = tokens(&app, "bo@example.com").await;
    let deleted = crate::harness::stackwright(&[
        "users",
        "delete",
        "bo@example.com",
        stack.path().to_str().unwrap(),
        "--database-url",
        &app.db().raw_url,
    ]);
    assert!(
        deleted.status.success(),
        "{}",
        crate::harness::text(&deleted.stderr)
    );
    let r = app
        .client
        .get(format!("{}/notes/1", app.url))
        .bearer_auth(&bo)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Json = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    let (_, r) = cognito(&app, "InitiateAuth", refresh_body(&bo_refresh)).await;
    assert_eq!(r["__type"], "NotAuthorizedException", "{r}");
    assert_eq!(get_with(&app, "/notes/1", Some(&fresh)).await, 200);
}

on_every_engine!(revoked_and_deleted_users_tokens_answer_401);

/// Signing out revokes every refresh token of the user in one write, not
/// only the first 10,000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_revokes_more_than_ten_thousand_refresh_tokens() {
    let stack = notes();
    let app = TestApp::spawn(stack.path()).await;
    registered(&app, &stack, "ana@example.com").await;
    let (_, access, refresh) = tokens(&app, "ana@example.com").await;
    let sub = app
        .db()
        .text("SELECT sub FROM _stackwright_users")
        .await
        .unwrap();
    // 10,001 more refresh tokens of the same user, older than the real one.
    app.db()
        .exec(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10001) \
             INSERT INTO _stackwright_refresh_tokens (token_hash, sub, expires_at, revoked, issued_ms) \
             SELECT printf('%064d', i), '{sub}', 9999999999, 0, 1 FROM n"
        ))
        .await;
    assert_eq!(
        cognito(&app, "GlobalSignOut", json!({"AccessToken": access}))
            .await
            .0,
        200
    );
    let (_, r) = cognito(&app, "InitiateAuth", refresh_body(&refresh)).await;
    assert_eq!(r["__type"], "NotAuthorizedException", "{r}");
}

/// As Cognito with PreventUserExistenceErrors: confirming an unknown name
/// answers as a wrong code does and is counted; signing up a taken name
/// takes as long as a new one (the password is hashed either way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_and_timing_do_not_tell_which_names_exist() {
    let stack = notes();
    let app = TestApp::spawn(stack.path()).await;
    registered(&app, &stack, "ana@example.com").await;
    let confirm =
        |email: &str| json!({"ClientId": "local", "Username": email, "ConfirmationCode": "123456"});
    for _ in 0..5 {
        let (_, r) = cognito(&app, "ConfirmSignUp", confirm("nobody@example.com")).await;
        assert_eq!(r["__type"], "CodeMismatchException", "{r}");
    }
    let (_, r) = cognito(&app, "ConfirmSignUp", confirm("nobody@example.com")).await;
    assert_eq!(r["__type"], "LimitExceededException", "counted: {r}");

    let mut taken = Vec::new();
    let mut fresh = Vec::new();
    for i in 0..5 {
        let body =
            |email: String| json!({"ClientId": "local", "Username": email, "Password": PASSWORD});
        let started = Instant::now();
        let (_, r) = cognito(&app, "SignUp", body("ana@example.com".into())).await;
        taken.push(started.elapsed());
        assert_eq!(r["__type"], "UsernameExistsException");
        let started = Instant::now();
        assert_eq!(
            cognito(&app, "SignUp", body(format!("new{i}@example.com")))
                .await
                .0,
            200
        );
        fresh.push(started.elapsed());
    }
    taken.sort();
    fresh.sort();
    // Medians; before the fix a taken name answered about 50 times faster.
    let (taken, fresh) = (taken[2], fresh[2]);
    assert!(
        taken * 3 >= fresh,
        "a taken name answers in {taken:?}, a new one in {fresh:?}"
    );
}

/// Look-alike addresses are the same user, or refused: full-width letters
/// fold (NFKC), invisible characters are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn look_alike_names_cannot_register_twice() {
    let stack = notes();
    let app = TestApp::spawn(stack.path()).await;
    registered(&app, &stack, "ana@example.com").await;
    let sign_up =
        |email: &str| json!({"ClientId": "local", "Username": email, "Password": PASSWORD});
    let (_, r) = cognito(&app, "SignUp", sign_up("ａｎａ@example.com")).await;
    assert_eq!(r["__type"], "UsernameExistsException", "{r}");
    for hidden in [
        "an\u{200B}a@example.com",
        "ana\u{200D}@example.com",
        "\u{FEFF}ana@example.com",
    ] {
        let (_, r) = cognito(&app, "SignUp", sign_up(hidden)).await;
        assert_eq!(r["__type"], "InvalidParameterException", "{hidden:?}: {r}");
    }
    // Signing in with the folded form reaches the same user.
    let (status, r) = cognito(
        &app,
        "InitiateAuth",
        sign_in_body("ＡＮＡ@example.com", PASSWORD),
    )
    .await;
    assert_eq!(status, 200, "{r}");
}

const FEED: &str = r#"
name = "feed"

[users]

[tables.events]
key = "id"
[tables.events.columns]
id = { type = "bigint", generated = true }
note = { type = "string", max_length = 100 }

[topics.events]
auth = "user"
fields = { note = { type = "string", max_length = 100 } }

[[subscriptions]]
topic = "events"
table = "events"
action = "insert"
"#;

/// On a topic that needs a user, an Idempotency-Key belongs to the user who
/// sent it: another user's message with the same key is not a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_are_per_publisher_on_user_topics() {
    let stack = TempStack::new(FEED);
    let app = TestApp::spawn(stack.path()).await;
    registered(&app, &stack, "ana@example.com").await;
    registered(&app, &stack, "bo@example.com").await;
    let (ana, _, _) = tokens(&app, "ana@example.com").await;
    let (bo, _, _) = tokens(&app, "bo@example.com").await;
    let publish = |token: String, note: &'static str| {
        let (client, url) = (app.client.clone(), app.url.clone());
        async move {
            let r = client
                .post(format!("{url}/topics/events"))
                .bearer_auth(token)
                .header("Idempotency-Key", "order-1")
                .json(&json!({"note": note}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
            r.json::<Json>().await.unwrap()
        }
    };
    let first = publish(ana.clone(), "ana's").await;
    assert_eq!(
        (first["accepted"].as_u64(), first["duplicates"].as_u64()),
        (Some(1), Some(0)),
        "{first}"
    );
    let other = publish(bo, "bo's").await;
    assert_eq!(other["duplicates"], 0, "another user's key: {other}");
    assert_ne!(other["ids"][0], first["ids"][0]);
    let again = publish(ana, "ana's again").await;
    assert_eq!(again["duplicates"], 1, "the same user's key: {again}");
}

/// Bodies must be declared JSON: a cross-site form (urlencoded, multipart,
/// text/plain) or a body without a type is refused with 415 and writes
/// nothing; the user pool likewise takes only its own JSON types.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_json_bodies_are_read() {
    let app = TestApp::spawn(&crate::harness::example("todo")).await;
    let before = app.get("/api/task/").await.body;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut request = app
            .client
            .post(format!("{}/api/task/", app.url))
            .body(r#"{"title":"cross-site"}"#);
        if let Some(ct) = content_type {
            request = request.header("Content-Type", ct);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 415, "{content_type:?}");
        let body: Json = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unsupported_media_type", "{body}");
    }
    assert_eq!(app.get("/api/task/").await.body, before, "nothing written");
    let ok = app
        .client
        .post(format!("{}/api/task/", app.url))
        .header("Content-Type", "application/json; charset=utf-8")
        .body(r#"{"title":"json"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);

    let stack = notes();
    let pool = TestApp::spawn(stack.path()).await;
    let r = pool
        .client
        .post(format!("{}/auth/", pool.url))
        .header("Content-Type", "text/plain")
        .header("X-Amz-Target", "AWSCognitoIdentityProviderService.SignUp")
        .body(
            json!({"ClientId": "local", "Username": "x@example.com", "Password": PASSWORD})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let users = pool
        .db()
        .count("SELECT COUNT(*) FROM _stackwright_users")
        .await;
    assert_eq!(users, 0, "no user was made");
}

/// On a loopback address only loopback host names are answered (and the
/// stack's allowed_hosts): a DNS rebinding page reaches the server under
/// its own name and is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_server_refuses_other_host_names() {
    let stack = TempStack::copy_of("todo", |toml| {
        format!("{toml}\n[server]\nallowed_hosts = [\"todo.test\"]\n")
    });
    let app = TestApp::spawn(stack.path()).await;
    let port = port_of(&app.url);
    let get = |host: String| {
        let url = app.url.clone();
        async move {
            let mut stream = TcpStream::connect(("127.0.0.1", port_of(&url)))
                .await
                .unwrap();
            let raw =
                format!("GET /api/task/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            stream.write_all(raw.as_bytes()).await.unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.unwrap();
            answer
        }
    };
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("todo.test:{port}"),
    ] {
        let answer = get(host.clone()).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{host}: {answer}");
    }
    for host in [
        format!("attacker.example:{port}"),
        "rebind.attacker.example".to_string(),
    ] {
        let answer = get(host.clone()).await;
        assert!(answer.starts_with("HTTP/1.1 403"), "{host}: {answer}");
        assert!(answer.contains("host_not_allowed"), "{answer}");
    }
}

/// The local state is its owner's alone (folder 0700, database, outbox and
/// key file 0600), and the signing key is sealed in the database; a key
/// stored in the clear by an older version is sealed at the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_state_is_private_and_the_signing_key_is_sealed() {
    let stack = notes();
    // The embedded default: no --database-url.
    let server = Served::start(stack.path(), "", &[]);
    let state = stack.path().join(".stackwright");
    let db = state.join("local.db");
    let url = format!("sqlite://{}", db.display());
    let client = reqwest::Client::new();
    let (status, r) = crate::harness::cognito_call(
        &client,
        &server.url(),
        "SignUp",
        json!({"ClientId": "local", "Username": "ana@example.com", "Password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700);
    for file in ["local.db", "outbox.jsonl", "user-pool.key"] {
        assert_eq!(mode(&state.join(file)), 0o600, "{file}");
    }
    drop(server);
    let sqlite = rusqlite::Connection::open(&db).unwrap();
    let stored: String = sqlite
        .query_row(
            "SELECT private_key FROM _stackwright_signing_keys",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(stored.starts_with("sealed-v1:"), "{stored}");

    // An older store: the key in the clear. The next start seals it.
    let kid: String = sqlite
        .query_row("SELECT kid FROM _stackwright_signing_keys", [], |r| {
            r.get(0)
        })
        .unwrap();
    let file = stackwright_server::users::keys::KeyFile::open(&state.join("user-pool.key"), false)
        .unwrap();
    let der = file.open_stored(&kid, &stored).unwrap();
    use base64::Engine as _;
    let plain = base64::engine::general_purpose::STANDARD.encode(&der);
    sqlite
        .execute(
            "UPDATE _stackwright_signing_keys SET private_key = ?1",
            [&plain],
        )
        .unwrap();
    let server = Served::start(stack.path(), &url, &[]);
    let jwks: Json = client
        .get(format!("{}/auth/.well-known/jwks.json", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], kid.as_str(), "the same key");
    let resealed: String = sqlite
        .query_row(
            "SELECT private_key FROM _stackwright_signing_keys",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(resealed.starts_with("sealed-v1:"), "{resealed}");
    drop(server);

    // Without the key file the pool does not start, and says why.
    std::fs::remove_file(state.join("user-pool.key")).unwrap();
    let out = crate::harness::stackwright(&[
        "users",
        "list",
        stack.path().to_str().unwrap(),
        "--database-url",
        &url,
    ]);
    assert!(!out.status.success());
    assert!(
        crate::harness::text(&out.stderr).contains("user-pool.key"),
        "{}",
        crate::harness::text(&out.stderr)
    );
}

/// The runtime package holds the stack file and the seeds only, not the
/// site's folder (the site is in its bucket): its own `bootstrap`, told so
/// as the templates tell it, serves the stack from the unpacked package.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_package_serves_without_the_site_folder() {
    let stack = stackwright_stack::load(&crate::harness::example("todo")).unwrap();
    assert!(stack.site.is_some(), "todo has a site");
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_stackwright"));
    let package = stackwright_deploy::package::runtime_zip(binary, &stack, false).unwrap();
    let unpacked = tempfile::tempdir().unwrap();
    zip::ZipArchive::new(std::io::Cursor::new(package.bytes))
        .unwrap()
        .extract(unpacked.path())
        .unwrap();
    let dir = unpacked.path().join("stack");
    assert!(!dir.join("site").exists(), "no site in the package");
    let run = |env: &[(&str, &str)]| {
        std::process::Command::new(unpacked.path().join("bootstrap"))
            .args(["check", dir.to_str().unwrap()])
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    // Unless told the site is elsewhere, the missing folder is a mistake.
    let check = run(&[]);
    assert!(!check.status.success());
    assert!(crate::harness::text(&check.stderr).contains("site folder `site` not found"));

    let db = unpacked.path().join("state.db");
    let served = Served::start(
        &dir,
        &format!("sqlite://{}", db.display()),
        &[("STACKWRIGHT_SITE_SERVED_ELSEWHERE", "1")],
    );
    let client = reqwest::Client::new();
    let tasks = client
        .get(format!("{}/api/task/", served.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(tasks.status(), 200, "{}", served.log());
    let site = client
        .get(format!("{}/index.html", served.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(site.status(), 404, "the runtime does not serve the site");
}

/// A write that a browser sends for a page of another origin is refused,
/// with a body or without; the API's own origin, the allowed site and
/// clients that are not browsers (no `Origin`) write as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_from_pages_of_other_origins_are_refused() {
    let app = TestApp::spawn(&crate::harness::example("todo")).await;
    let before = app.get("/api/task/").await.body;
    let send = |method: reqwest::Method, path: &str, origin: Option<&str>, body: Option<&str>| {
        let mut request = app.client.request(method, format!("{}{path}", app.url));
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        async move { request.send().await.unwrap() }
    };
    let post = reqwest::Method::POST;
    let delete = reqwest::Method::DELETE;
    for (method, path, body) in [
        (post.clone(), "/api/task/", Some(r#"{"title":"from evil"}"#)),
        (delete.clone(), "/api/task/1/", None),
    ] {
        for origin in ["https://evil.example", "null"] {
            let r = send(method.clone(), path, Some(origin), body).await;
            assert_eq!(r.status(), 403, "{method} {path} from {origin}");
            let e: Json = r.json().await.unwrap();
            assert_eq!(e["error"]["code"], "forbidden", "{e}");
        }
    }
    assert_eq!(app.get("/api/task/").await.body, before, "nothing written");
    // Reads are answered (CORS keeps the page from seeing them).
    let read = send(
        reqwest::Method::GET,
        "/api/task/",
        Some("https://evil.example"),
        None,
    )
    .await;
    assert_eq!(read.status(), 200);
    let own = app.url.clone();
    for origin in [Some(own.as_str()), Some("https://site.example"), None] {
        let r = send(
            post.clone(),
            "/api/task/",
            origin,
            Some(r#"{"title":"fine"}"#),
        )
        .await;
        assert_eq!(r.status(), 201, "from {origin:?}");
    }
}

/// Bodies waiting to arrive hold memory only within a byte budget
/// (`max_concurrent_requests` × `max_body_bytes`): beyond it a request is
/// shed at once; requests without a body are not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_in_flight_stay_within_a_byte_budget() {
    let stack = TempStack::copy_of("todo", |toml| {
        format!("{toml}\n[server]\nmax_body_bytes = 1024\nmax_concurrent_requests = 4\nbody_timeout_seconds = 5\n")
    });
    let app = TestApp::spawn(stack.path()).await;
    let port = port_of(&app.url);
    let mut senders = Vec::new();
    for _ in 0..6 {
        let mut s = connect_from("127.0.0.2", port).await;
        let head = "POST /api/task/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1024\r\n\r\n";
        s.write_all(format!("{head}{}", " ".repeat(1000)).as_bytes())
            .await
            .unwrap();
        senders.push(s);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Four bodies fill the 4 KiB budget; the others are shed at once.
    let mut shed = 0;
    for s in &mut senders {
        let mut buf = [0u8; 512];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await
        {
            let answer = String::from_utf8_lossy(&buf[..n]);
            assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
            assert!(answer.contains("overloaded"), "{answer}");
            shed += 1;
        }
    }
    assert_eq!(shed, 2, "beyond the budget");
    assert_eq!(app.get("/api/task/").await.status, 200, "no body, no share");
}
