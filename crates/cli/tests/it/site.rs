//! The static site as `up` serves it: content types, caching and
//! revalidation, placeholders filled, the folder's own address, and no way
//! out of the folder.

use crate::harness::{TempStack, TestApp};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_is_served_with_types_caching_and_filled_placeholders() {
    let stack = TempStack::copy_of("todo", |toml| toml);
    let app = TestApp::spawn(stack.path()).await;
    let c = client();

    let page = c.get(format!("{}/", app.url)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let h = page.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let etag = h["etag"].clone();
    let again = c
        .get(format!("{}/index.html", app.url))
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304, "revalidated by ETag");

    let script = c.get(format!("{}/app.js", app.url)).send().await.unwrap();
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(script.headers()["cache-control"], "public, max-age=3600");
    let style = c
        .get(format!("{}/style.css", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(style.headers()["content-type"], "text/css; charset=utf-8");
    let head = c
        .head(format!("{}/style.css", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 200);

    let config = c
        .get(format!("{}/config.js", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!config.contains("{{"), "placeholders filled: {config}");
    assert!(
        config.contains("apiUrl: \"\""),
        "the API on the same origin: {config}"
    );

    // The API still answers beside the site, and an unknown page is a JSON 404.
    assert_eq!(app.get("/api/task/").await.status, 200);
    app.get("/nope.html").await.assert_error(404, "not_found");
    let post = app.post("/index.html", "{}").await;
    post.assert_error(405, "method_not_allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_outside_the_site_folder_can_be_reached() {
    let stack = TempStack::copy_of("todo", |toml| toml);
    stack.write("site/.secret", "hidden");
    let app = TestApp::spawn(stack.path()).await;
    for path in [
        "/../stackwright.toml",
        "/%2e%2e/stackwright.toml",
        "/..%2fstackwright.toml",
        "/%2e%2e%2fstackwright.toml",
        "/site/../stackwright.toml",
        "/seed/tasks.json",
        "/stackwright.toml",
        "/.secret",
        "/.stackwright/local.db",
        "//etc/passwd",
        "/%00",
    ] {
        let r = client()
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert!(
            (400..500).contains(&status) && !body.contains("name = ") && !body.contains("hidden"),
            "{path}: {status} {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_under_a_path_keeps_the_api_at_the_root() {
    let stack = TempStack::copy_of("mysfits", |toml| toml);
    let app = TestApp::spawn(stack.path()).await;
    let c = client();
    let bare = c.get(format!("{}/app", app.url)).send().await.unwrap();
    assert_eq!(bare.status().as_u16(), 308);
    assert_eq!(bare.headers()["location"], "/app/");
    let page = c.get(format!("{}/app/", app.url)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    // GET / is still the API's health route.
    let health = app.get("/").await;
    assert_eq!(health.status, 200);
    assert!(health.body["message"].is_string());
    app.get("/app/nope.js").await.assert_error(404, "not_found");
}
