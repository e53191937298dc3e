//! The user pool: sign-up with a code from the outbox, confirmation,
//! sign-in, refresh and sign-out through the Cognito protocol at `/auth/`;
//! routes that need a user refuse every token that is not exactly right;
//! and the runtime accepting tokens of a Cognito pool (moto's) through its
//! JWKS URL.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value as Json};
use stackwright_server::users::tokens::SigningKey;

use crate::harness::{
    cognito_call, on_every_engine, stackwright, text, Served, TempStack, TestApp, TestEngine,
};

const NOTES: &str = r#"
name = "notes"

[users]
password_min_length = 10

[tables.notes]
key = "id"
seed = "seed/notes.csv"
[tables.notes.columns]
id = { type = "integer" }
text = { type = "text" }

[[routes]]
method = "GET"
path = "/notes/{id}"
op = "get"
table = "notes"
auth = "user"

[[routes]]
method = "GET"
path = "/public/{id}"
op = "get"
table = "notes"
"#;

pub(crate) fn notes() -> TempStack {
    let stack = TempStack::new(NOTES);
    stack.write("seed/notes.csv", "id,text\n1,hello\n");
    stack
}

/// One Cognito-protocol call: (HTTP status, body).
pub(crate) async fn cognito(app: &TestApp, op: &str, body: Json) -> (u16, Json) {
    cognito_call(&app.client, &app.url, op, body).await
}

pub(crate) async fn get_with(app: &TestApp, path: &str, token: Option<&str>) -> u16 {
    let mut request = app.client.get(format!("{}{path}", app.url));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    request.send().await.unwrap().status().as_u16()
}

/// The newest code "sent" to `email`.
pub(crate) fn code_for(stack: &TempStack, email: &str) -> String {
    let outbox = std::fs::read_to_string(stack.path().join(".stackwright/outbox.jsonl")).unwrap();
    outbox
        .lines()
        .rev()
        .map(|l| serde_json::from_str::<Json>(l).unwrap())
        .find(|m| m["to"] == email)
        .map(|m| m["code"].as_str().unwrap().to_string())
        .expect("a code was sent")
}

pub(crate) fn sign_in_body(email: &str, password: &str) -> Json {
    json!({"ClientId": "local", "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": {"USERNAME": email, "PASSWORD": password}})
}

async fn sign_up_confirm_sign_in_refresh_sign_out(engine: TestEngine) {
    let stack = notes();
    let app = TestApp::spawn_on(engine, stack.path()).await;
    let email = "ana@example.com";
    let password = "Correct-Horse-9";

    let (status, r) = cognito(
        &app,
        "SignUp",
        json!({"ClientId": "local", "Username": email, "Password": "short1A"}),
    )
    .await;
    assert_eq!(
        (status, r["__type"].as_str()),
        (400, Some("InvalidPasswordException")),
        "{r}"
    );
    let (status, r) = cognito(
        &app,
        "SignUp",
        json!({"ClientId": "local", "Username": "not-an-email", "Password": password}),
    )
    .await;
    assert_eq!(
        (status, r["__type"].as_str()),
        (400, Some("InvalidParameterException")),
        "{r}"
    );
    let (status, r) = cognito(
        &app,
        "SignUp",
        json!({"ClientId": "other", "Username": email, "Password": password}),
    )
    .await;
    assert_eq!(
        (status, r["__type"].as_str()),
        (400, Some("ResourceNotFoundException")),
        "{r}"
    );
    let (status, r) = cognito(
        &app,
        "SignUp",
        json!({"ClientId": "local", "Username": email, "Password": password}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["UserConfirmed"], false);
    let (_, r) = cognito(
        &app,
        "SignUp",
        json!({"ClientId": "local", "Username": "ANA@example.com", "Password": password}),
    )
    .await;
    assert_eq!(
        r["__type"], "UsernameExistsException",
        "e-mail addresses are one user whatever the case"
    );

    let (_, r) = cognito(&app, "InitiateAuth", sign_in_body(email, password)).await;
    assert_eq!(r["__type"], "UserNotConfirmedException");
    let (_, r) = cognito(
        &app,
        "ConfirmSignUp",
        json!({"ClientId": "local", "Username": email, "ConfirmationCode": "000000x"}),
    )
    .await;
    assert_eq!(r["__type"], "CodeMismatchException");
    let code = code_for(&stack, email);
    assert_eq!(code.len(), 6);
    let (status, r) = cognito(
        &app,
        "ConfirmSignUp",
        json!({"ClientId": "local", "Username": email, "ConfirmationCode": code}),
    )
    .await;
    assert_eq!((status, r), (200, json!({})));

    let (_, r) = cognito(&app, "InitiateAuth", sign_in_body(email, "Wrong-Horse-9")).await;
    assert_eq!(r["__type"], "NotAuthorizedException");
    let (_, r) = cognito(
        &app,
        "InitiateAuth",
        sign_in_body("nobody@example.com", password),
    )
    .await;
    assert_eq!(
        r["__type"], "NotAuthorizedException",
        "the same answer as a wrong password"
    );
    let (status, r) = cognito(&app, "InitiateAuth", sign_in_body(email, password)).await;
    assert_eq!(status, 200, "{r}");
    let result = &r["AuthenticationResult"];
    let (id, access, refresh) = (
        result["IdToken"].as_str().unwrap().to_string(),
        result["AccessToken"].as_str().unwrap().to_string(),
        result["RefreshToken"].as_str().unwrap().to_string(),
    );

    assert_eq!(get_with(&app, "/public/1", None).await, 200);
    assert_eq!(get_with(&app, "/notes/1", None).await, 401);
    assert_eq!(get_with(&app, "/notes/1", Some(&id)).await, 200);
    assert_eq!(get_with(&app, "/notes/1", Some(&access)).await, 200);
    assert_eq!(get_with(&app, "/notes/1", Some("not.a.token")).await, 401);

    let (_, r) = cognito(&app, "InitiateAuth", json!({"ClientId": "local", "AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": refresh}})).await;
    let fresh = r["AuthenticationResult"]["IdToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(get_with(&app, "/notes/1", Some(&fresh)).await, 200);

    let (status, _) = cognito(&app, "GlobalSignOut", json!({"AccessToken": access})).await;
    assert_eq!(status, 200);
    let (_, r) = cognito(&app, "InitiateAuth", json!({"ClientId": "local", "AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": refresh}})).await;
    assert_eq!(
        r["__type"], "NotAuthorizedException",
        "signed out: the refresh token is revoked"
    );
    let (_, r) = cognito(&app, "GlobalSignOut", json!({"AccessToken": id})).await;
    assert_eq!(
        r["__type"], "NotAuthorizedException",
        "sign-out takes an access token"
    );

    // The command line sees the same pool.
    let listed = stackwright(&[
        "users",
        "list",
        stack.path().to_str().unwrap(),
        "--database-url",
        &app.db().raw_url,
        "--json",
    ]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let listed: Json = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["users"][0]["email"], email);
    assert_eq!(listed["users"][0]["confirmed"], true);
}

on_every_engine!(sign_up_confirm_sign_in_refresh_sign_out);

/// The pool's signing key, from its table, opened with the stack's key file.
async fn pool_key(app: &TestApp, stack: &TempStack) -> SigningKey {
    let kid = app
        .db()
        .text("SELECT kid FROM _stackwright_signing_keys")
        .await
        .unwrap();
    let stored = app
        .db()
        .text("SELECT private_key FROM _stackwright_signing_keys")
        .await
        .unwrap();
    // Sealed with the stack's key file: the database alone cannot sign.
    assert!(stored.starts_with("sealed-v1:"), "{stored}");
    let der = stackwright_server::users::keys::KeyFile::open(
        &stack.path().join(".stackwright/user-pool.key"),
        false,
    )
    .unwrap()
    .open_stored(&kid, &stored)
    .unwrap();
    SigningKey::from_pkcs8(&kid, &der).unwrap()
}

/// Tokens minted with the pool's own key but one thing wrong, and tokens
/// not signed by the pool's key, are all refused; the same minting with
/// everything right is accepted (so each refusal is for its one fault).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_wrong_token_is_refused() {
    use base64::Engine as _;
    let b64 = |v: &Json| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());

    let stack = notes();
    let app = TestApp::spawn_on(TestEngine::Sqlite, stack.path()).await;
    let key = pool_key(&app, &stack).await;
    let kid = key.kid.clone();
    let now = stackwright_server::users::tokens::now_seconds();
    let claims = |change: &dyn Fn(&mut Json)| {
        let mut c = json!({
            "sub": "00000000-0000-0000-0000-000000000001",
            "iss": "urn:stackwright:notes:local",
            "aud": "local",
            "token_use": "id",
            "iat": now,
            "exp": now + 600,
        });
        change(&mut c);
        c
    };

    let good = key.sign(&claims(&|_| {}));
    assert_eq!(
        get_with(&app, "/notes/1", Some(&good)).await,
        200,
        "a correct token passes"
    );

    let refused = [
        (
            "wrong audience",
            key.sign(&claims(&|c| c["aud"] = json!("another-client"))),
        ),
        (
            "wrong issuer",
            key.sign(&claims(&|c| {
                c["iss"] = json!("urn:stackwright:other:local")
            })),
        ),
        ("expired", key.sign(&claims(&|c| c["exp"] = json!(now - 1)))),
        (
            "no expiry",
            key.sign(&claims(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
        ),
        (
            "refresh use",
            key.sign(&claims(&|c| c["token_use"] = json!("refresh"))),
        ),
        (
            "another key, same kid",
            SigningKey::from_pkcs8(&kid, &SigningKey::generate().unwrap().pkcs8())
                .unwrap()
                .sign(&claims(&|_| {})),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
                b64(&claims(&|_| {}))
            ),
        ),
        ("alg HS256", {
            let parts: Vec<&str> = good.split('.').collect();
            format!(
                "{}.{}.{}",
                b64(&json!({"alg": "HS256", "typ": "JWT", "kid": kid})),
                parts[1],
                parts[2]
            )
        }),
        ("tampered claims", {
            let parts: Vec<&str> = good.split('.').collect();
            format!(
                "{}.{}.{}",
                parts[0],
                b64(&claims(&|c| c["sub"] = json!("someone-else"))),
                parts[2]
            )
        }),
    ];
    for (what, token) in refused {
        let r = app
            .client
            .get(format!("{}/notes/1", app.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{what}");
        let body: Json = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized", "{what}: {body}");
    }
}

/// On AWS the runtime verifies Cognito's tokens: here moto's, signed up,
/// confirmed and signed in through the Cognito API, checked against moto's
/// JWKS URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_accepts_cognito_tokens_through_the_jwks_url() {
    let endpoint = crate::harness::ensure_moto().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let made = Command::new(root.join(".tools/moto/bin/python"))
        .arg(root.join("tools/moto_cognito.py"))
        .args([
            endpoint.as_str(),
            "eu-west-3",
            "cognito-user@example.com",
            "Passw0rd!long",
        ])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made.stderr));
    let pool: Json = serde_json::from_slice(&made.stdout).unwrap();

    let stack = notes();
    let db = stack.path().join("notes.db");
    let runtime = Served::start(
        stack.path(),
        &format!("sqlite://{}", db.display()),
        &[
            (
                "STACKWRIGHT_USER_POOL_ID",
                pool["pool_id"].as_str().unwrap(),
            ),
            (
                "STACKWRIGHT_USER_POOL_CLIENT_ID",
                pool["client_id"].as_str().unwrap(),
            ),
            (
                "STACKWRIGHT_USER_POOL_JWKS_URL",
                pool["jwks_url"].as_str().unwrap(),
            ),
        ],
    );
    let port = runtime.port;
    let client = reqwest::Client::new();
    let get = |token: String| {
        let client = client.clone();
        async move {
            client
                .get(format!("http://127.0.0.1:{port}/notes/1"))
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    let id = pool["id_token"].as_str().unwrap().to_string();
    let mut status = 0;
    for _ in 0..100 {
        status = get(id.clone()).await;
        if status != 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "moto's ID token is accepted");
    assert_eq!(
        get(pool["access_token"].as_str().unwrap().to_string()).await,
        200
    );
    let mut tampered = id.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(get(tampered).await, 401, "a changed signature is refused");
    // Signing up locally is off: the pool is Cognito's.
    let local = client
        .post(format!("http://127.0.0.1:{port}/auth/"))
        .header("X-Amz-Target", "AWSCognitoIdentityProviderService.SignUp")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(local.status().as_u16(), 404);
    drop(runtime);
}

/// The deployed site calls the API from its own origin (CloudFront): that
/// origin, and only it, may, with the bearer token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_sites_origin_may_call_across_origins() {
    let stack = notes();
    // The harness allows https://site.example, as the templates allow the site's URL.
    let app = TestApp::spawn_on(TestEngine::Sqlite, stack.path()).await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/notes/1", app.url))
        .header("Origin", "https://site.example")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 204);
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], "https://site.example");
    assert!(h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("authorization"));
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));

    let allowed = app
        .client
        .get(format!("{}/public/1", app.url))
        .header("Origin", "https://site.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://site.example"
    );
    let other = app
        .client
        .get(format!("{}/public/1", app.url))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 200);
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let refused = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/notes/1", app.url))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

/// A route can write who the signed-in user is (`set = { owner =
/// "$user.sub" }`): the value comes from the verified token, never from
/// the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_write_the_signed_in_users_claims() {
    let stack = TempStack::new(&format!(
        "{}\n{}",
        NOTES.replace(
            "text = { type = \"text\" }",
            "text = { type = \"text\" }\nowner = { type = \"string\", max_length = 36, nullable = true }\nowner_email = { type = \"text\", nullable = true }"
        ),
        r#"
[[routes]]
method = "POST"
path = "/notes/{id}/claim"
op = "update"
table = "notes"
auth = "user"
set = { owner = "$user.sub", owner_email = "$user.email" }
"#
    ));
    stack.write("seed/notes.csv", "id,text\n1,hello\n");
    let app = TestApp::spawn_on(TestEngine::Sqlite, stack.path()).await;
    let email = "owner@example.com";
    let password = "Correct-Horse-9";
    cognito(
        &app,
        "SignUp",
        json!({"ClientId": "local", "Username": email, "Password": password}),
    )
    .await;
    let code = code_for(&stack, email);
    cognito(
        &app,
        "ConfirmSignUp",
        json!({"ClientId": "local", "Username": email, "ConfirmationCode": code}),
    )
    .await;
    let (_, r) = cognito(&app, "InitiateAuth", sign_in_body(email, password)).await;
    let id = r["AuthenticationResult"]["IdToken"].as_str().unwrap();
    let access = r["AuthenticationResult"]["AccessToken"].as_str().unwrap();
    let sub = app
        .db()
        .text("SELECT sub FROM _stackwright_users")
        .await
        .unwrap();

    let claimed = app
        .client
        .post(format!("{}/notes/1/claim", app.url))
        .bearer_auth(id)
        .send()
        .await
        .unwrap();
    assert_eq!(claimed.status().as_u16(), 200);
    let note: Json = claimed.json().await.unwrap();
    assert_eq!(note["owner"], sub.as_str());
    assert_eq!(note["owner_email"], email);
    // The access token has no e-mail: refused, nothing written.
    let r = app
        .client
        .post(format!("{}/notes/1/claim", app.url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // An e-mail address not yet verified is not written: it may be someone
    // else's. (Minted with the pool's key: its own tokens are verified.)
    let now = stackwright_server::users::tokens::now_seconds();
    let unverified = pool_key(&app, &stack).await.sign(&json!({
        "sub": "00000000-0000-0000-0000-000000000002",
        "email": "victim@example.com",
        "email_verified": false,
        "iss": "urn:stackwright:notes:local",
        "aud": "local",
        "token_use": "id",
        "iat": now,
        "exp": now + 600,
    }));
    let r = app
        .client
        .post(format!("{}/notes/1/claim", app.url))
        .bearer_auth(&unverified)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let body: Json = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden", "{body}");
    let owner = app
        .db()
        .text("SELECT owner_email FROM notes WHERE id = 1")
        .await;
    assert_eq!(owner.as_deref(), Some(email), "unchanged");

    // Claims need a signed-in route, and a column that can hold them.
    let bad = TempStack::new(&format!(
        "{NOTES}\n[[routes]]\nmethod = \"POST\"\npath = \"/open/{{id}}\"\nop = \"update\"\ntable = \"notes\"\nset = {{ text = \"$user.sub\" }}\n"
    ));
    bad.write("seed/notes.csv", "id,text\n1,hello\n");
    let out = stackwright(&["check", bad.path().to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("needs a signed-in user"),
        "{}",
        text(&out.stderr)
    );
}

/// Cognito rotates its signing keys: a token signed with a key the runtime
/// has not seen makes it fetch the JWKS again, and a key that is gone from
/// the set stops being accepted once fetched again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_keys_are_fetched_from_the_jwks_url() {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use stackwright_server::users::tokens::{Expected, RemoteKeys};
    use stackwright_server::users::UserAuth;

    let old = SigningKey::generate().unwrap();
    let new = SigningKey::generate().unwrap();
    let published: Arc<Mutex<Json>> = Arc::new(Mutex::new(json!({ "keys": [old.jwk()] })));
    let fetches = Arc::new(Mutex::new(0));
    let app = {
        let (published, fetches) = (published.clone(), fetches.clone());
        axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let (published, fetches) = (published.clone(), fetches.clone());
                async move {
                    *fetches.lock().unwrap() += 1;
                    axum::Json(published.lock().unwrap().clone())
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let expected = Expected {
        issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_test".into(),
        client_id: "site".into(),
    };
    let auth = UserAuth::Cognito {
        expected: expected.clone(),
        keys: RemoteKeys::new(url).refetch_after(Duration::ZERO),
    };
    let now = stackwright_server::users::tokens::now_seconds();
    let token = |key: &SigningKey| {
        key.sign(&json!({"sub": "u1", "iss": expected.issuer, "aud": "site", "token_use": "id", "exp": now + 600}))
    };

    assert!(auth.verify(&token(&old)).await.is_ok());
    assert!(auth.verify(&token(&old)).await.is_ok());
    assert_eq!(
        *fetches.lock().unwrap(),
        1,
        "known keys are not fetched again"
    );
    // Rotation: the pool publishes the new key next to the old one.
    *published.lock().unwrap() = json!({ "keys": [old.jwk(), new.jwk()] });
    assert!(
        auth.verify(&token(&new)).await.is_ok(),
        "a new key is fetched"
    );
    assert_eq!(*fetches.lock().unwrap(), 2);
    // The old key retired: once the set is fetched again it is refused.
    *published.lock().unwrap() = json!({ "keys": [new.jwk()] });
    let stranger = SigningKey::generate().unwrap();
    assert!(
        auth.verify(&token(&stranger)).await.is_err(),
        "an unknown key is refused"
    );
    assert!(
        auth.verify(&token(&old)).await.is_err(),
        "a retired key is refused"
    );
    assert!(auth.verify(&token(&new)).await.is_ok());
}

/// Brute force: five wrong passwords (or confirmation codes) in a row lock
/// the name out, even from the right one, for a lockout that starts at 1 s;
/// other users are not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_wrong_passwords_and_codes_lock_the_name_out() {
    let stack = notes();
    let app = TestApp::spawn(stack.path()).await;
    let password = "Correct-Horse-9";
    for email in ["ana@example.com", "bo@example.com"] {
        let sign_up = json!({"ClientId": "local", "Username": email, "Password": password});
        assert_eq!(cognito(&app, "SignUp", sign_up).await.0, 200);
    }

    // Confirmation codes: six digits, so guessing must be limited too.
    let confirm = |code: &str| json!({"ClientId": "local", "Username": "ana@example.com", "ConfirmationCode": code});
    let right = code_for(&stack, "ana@example.com");
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..5 {
        let (_, r) = cognito(&app, "ConfirmSignUp", confirm(wrong)).await;
        assert_eq!(r["__type"], "CodeMismatchException", "{r}");
    }
    let (status, r) = cognito(&app, "ConfirmSignUp", confirm(&right)).await;
    assert_eq!(
        (status, r["__type"].as_str()),
        (400, Some("LimitExceededException")),
        "{r}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(cognito(&app, "ConfirmSignUp", confirm(&right)).await.0, 200);
    let bo = json!({"ClientId": "local", "Username": "bo@example.com", "ConfirmationCode": code_for(&stack, "bo@example.com")});
    assert_eq!(cognito(&app, "ConfirmSignUp", bo).await.0, 200);

    // Passwords.
    for _ in 0..5 {
        let (_, r) = cognito(
            &app,
            "InitiateAuth",
            sign_in_body("ana@example.com", "Wrong-Horse-1"),
        )
        .await;
        assert_eq!(r["message"], "Incorrect username or password.", "{r}");
    }
    let (status, r) = cognito(
        &app,
        "InitiateAuth",
        sign_in_body("ana@example.com", password),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(r["message"], "Password attempts exceeded", "{r}");
    // Another user signs in as usual; the lockout ends.
    assert_eq!(
        cognito(
            &app,
            "InitiateAuth",
            sign_in_body("bo@example.com", password)
        )
        .await
        .0,
        200
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, r) = cognito(
        &app,
        "InitiateAuth",
        sign_in_body("ana@example.com", password),
    )
    .await;
    assert_eq!(status, 200, "{r}");

    // An unknown name is locked out alike, so the answer does not tell names apart.
    for _ in 0..5 {
        cognito(
            &app,
            "InitiateAuth",
            sign_in_body("nobody@example.com", password),
        )
        .await;
    }
    let (_, r) = cognito(
        &app,
        "InitiateAuth",
        sign_in_body("nobody@example.com", password),
    )
    .await;
    assert_eq!(r["message"], "Password attempts exceeded", "{r}");
}
