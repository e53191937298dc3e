//! A constant JSON body as fast as axum serves it: the ceiling the
//! stackwright runtime is measured against (same runtime, same HTTP stack).

use axum::routing::get;
use axum::Router;

#[tokio::main]
async fn main() {
    let port = std::env::args().nth(1).unwrap_or_else(|| "18600".into());
    let app = Router::new().route(
        "/api/pet/{name}",
        get(|| async {
            (
                [("content-type", "application/json")],
                r#"{"name":"Fluffy","owner":"Harold","species":"cat"}"#,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
