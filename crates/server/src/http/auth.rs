//! `/auth/`: the embedded user pool, speaking the subset of the Amazon
//! Cognito Identity Provider protocol a sign-in page needs (`POST` with
//! `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>`): SignUp,
//! ConfirmSignUp, InitiateAuth (USER_PASSWORD_AUTH, REFRESH_TOKEN_AUTH) and
//! GlobalSignOut; and the pool's keys at `/auth/.well-known/jwks.json`. So
//! the same page signs in here and, deployed, against Cognito.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value as Json};

use super::ApiContext;
use crate::users::pool::{Failure, Pool, PoolError, Tokens};
use crate::users::UserAuth;

/// The largest request the pool reads.
const MAX_BODY: usize = 16 * 1024;

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/auth", post(handle))
        .route("/auth/", post(handle))
        .route("/auth/.well-known/jwks.json", get(jwks))
}

fn pool(ctx: &ApiContext) -> Option<&Pool> {
    match ctx.users.as_deref() {
        Some(UserAuth::Local(pool)) => Some(pool),
        _ => None,
    }
}

fn answer(status: StatusCode, body: Json) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    response
}

fn refused(e: PoolError) -> Response {
    answer(
        StatusCode::BAD_REQUEST,
        json!({ "__type": e.kind, "message": e.message }),
    )
}

async fn jwks(State(ctx): State<ApiContext>) -> Response {
    match pool(&ctx) {
        Some(pool) => axum::Json(pool.jwks().await).into_response(),
        None => {
            crate::error::ApiError::NotFound("this stack has no user pool".into()).into_response()
        }
    }
}

async fn handle(State(ctx): State<ApiContext>, request: Request) -> Response {
    let Some(pool) = pool(&ctx) else {
        return crate::error::ApiError::NotFound("this stack has no user pool".into())
            .into_response();
    };
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    // Every call may hash a password: guessing and flooding are paced per client.
    let hops = ctx.stack.server.trusted_proxy_hops;
    if let Some(client) = super::client::address(&headers, &parts.extensions, hops) {
        if let Err(wait) = ctx.auth_limit.take(client) {
            let mut response = answer(
                StatusCode::TOO_MANY_REQUESTS,
                json!({ "__type": "TooManyRequestsException", "message": "Too many requests from your address; retry later." }),
            );
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                crate::error::retry_after(wait),
            );
            return response;
        }
    }
    // Cognito's own content type, or JSON; never a form a page elsewhere can post.
    if let Err(e) = super::decode::require_json(
        &headers,
        &["application/x-amz-json-1.1", "application/json"],
    ) {
        return refused(PoolError::new("InvalidParameterException", e.to_string()));
    }
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let op = target
        .strip_prefix("AWSCognitoIdentityProviderService.")
        .unwrap_or_default();
    // Any unreadable body is answered as Cognito does: not a JSON object.
    let bytes = super::decode::read_bytes(&headers, body, MAX_BODY)
        .await
        .unwrap_or_default();
    let request = match super::decode::parse_json(&bytes) {
        Ok(Json::Object(map)) => Json::Object(map),
        _ => {
            return refused(PoolError::new(
                "InvalidParameterException",
                "The request body must be a JSON object.",
            ))
        }
    };
    let field = |name: &str| request.get(name).and_then(Json::as_str).unwrap_or_default();
    let param = |name: &str| {
        request["AuthParameters"]
            .get(name)
            .and_then(Json::as_str)
            .unwrap_or_default()
    };
    let outcome: Result<Json, Failure> = match op {
        "SignUp" => pool
            .sign_up(field("ClientId"), field("Username"), field("Password"))
            .await
            .map(|sub| json!({ "UserConfirmed": false, "UserSub": sub, "CodeDeliveryDetails": { "DeliveryMedium": "EMAIL", "AttributeName": "email", "Destination": field("Username") } })),
        "ConfirmSignUp" => pool
            .confirm(field("ClientId"), field("Username"), field("ConfirmationCode"))
            .await
            .map(|()| json!({})),
        "InitiateAuth" => match field("AuthFlow") {
            "USER_PASSWORD_AUTH" => pool
                .sign_in(field("ClientId"), param("USERNAME"), param("PASSWORD"))
                .await
                .map(|t| result(&t)),
            "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => pool
                .refresh(field("ClientId"), param("REFRESH_TOKEN"))
                .await
                .map(|t| result(&t)),
            other => Err(Failure::Refused(PoolError::new(
                "InvalidParameterException",
                format!("AuthFlow `{}` is not supported here: use USER_PASSWORD_AUTH or REFRESH_TOKEN_AUTH", super::clip(other)),
            ))),
        },
        "GlobalSignOut" => pool.sign_out(field("AccessToken")).await.map(|()| json!({})),
        _ => Err(Failure::Refused(PoolError::new(
            "UnknownOperationException",
            format!("unknown or missing X-Amz-Target `{}`", super::clip(&target)),
        ))),
    };
    match outcome {
        Ok(body) => answer(StatusCode::OK, body),
        Err(Failure::Refused(e)) => {
            tracing::info!(target: "stackwright::users", op, kind = e.kind, "refused");
            refused(e)
        }
        Err(Failure::Storage(e)) => crate::error::ApiError::from(e).into_response(),
        Err(Failure::Busy) => {
            let mut response = answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "__type": "TooManyRequestsException", "message": "The user pool is busy; retry shortly." }),
            );
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                HeaderValue::from_static("1"),
            );
            response
        }
    }
}

fn result(t: &Tokens) -> Json {
    let mut result = json!({
        "IdToken": t.id_token,
        "AccessToken": t.access_token,
        "ExpiresIn": t.expires_in,
        "TokenType": "Bearer",
    });
    if let Some(r) = &t.refresh_token {
        result["RefreshToken"] = json!(r);
    }
    json!({ "AuthenticationResult": result, "ChallengeParameters": {} })
}
