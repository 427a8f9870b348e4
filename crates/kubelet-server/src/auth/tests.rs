//! The filter end to end: a router behind [`Auth::layer`], fake reviewers.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request as AxumRequest;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt;
use rcgen::DnType;
use tower::ServiceExt;

use super::authorizer::tests::FakeAccess;
use super::token::tests::FakeTokens;
use super::x509::tests::TestCa;
use super::*;

/// A router that answers every kubelet path with the user it was served to, and says
/// whether the bearer token reached it.
fn routes() -> Router {
    async fn echo(request: AxumRequest) -> String {
        let user = request
            .extensions()
            .get::<UserInfo>()
            .cloned()
            .unwrap_or_default();
        let token = request.headers().contains_key("authorization");
        format!("{} token={token}", user.name)
    }
    Router::new()
        .route("/healthz", get(echo))
        .route("/pods", get(echo))
        .route("/metrics", get(echo))
        .route("/stats/summary", get(echo))
        .route("/logs/", get(echo))
        .route("/logs/{*path}", get(echo))
}

struct Setup {
    router: Router,
    tokens: Arc<FakeTokens>,
    access: Arc<FakeAccess>,
}

/// The kubelet's default configuration (webhook authentication and authorization,
/// anonymous off), a client CA, and `config` applied on top.
fn setup(
    ca: Option<&TestCa>,
    allowed: &[(&str, &str)],
    config: impl FnOnce(&mut AuthenticationConfig),
) -> Setup {
    let tokens = FakeTokens::with(&[
        ("alice-token", UserInfo::new("alice")),
        ("bob-token", UserInfo::new("bob")),
        ("error-token", UserInfo::new("error")),
    ]);
    let access = FakeAccess::allowing(allowed);
    let dir = tempfile::tempdir().unwrap();
    let mut authentication = AuthenticationConfig::default();
    if let Some(ca) = ca {
        let path = dir.path().join("ca.crt");
        std::fs::write(&path, ca.pem()).unwrap();
        authentication.x509.client_ca_file = Some(path);
    }
    config(&mut authentication);
    let reviewers = Reviewers {
        tokens: Some(tokens.clone()),
        access: Some(access.clone()),
    };
    let auth = Auth::from_config(
        "node-a",
        &authentication,
        &AuthorizationConfig::default(),
        reviewers,
    )
    .unwrap();
    Setup {
        router: routes().layer(Arc::new(auth).layer()),
        tokens,
        access,
    }
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn get_with_token(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn get_anonymous(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

/// HT-01: GET https://node:10250/healthz without credentials → 401; with authorized
/// credentials → 200.
#[tokio::test]
async fn ht_01_healthz_needs_credentials_and_serves_authorized_ones() {
    let ca = TestCa::new("client-ca");
    let setup = setup(
        Some(&ca),
        &[
            ("alice", "healthz"),
            ("kube-apiserver-kubelet-client", "proxy"),
        ],
        |_| {},
    );

    let (status, body) = send(&setup.router, get_anonymous("/healthz")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, "Unauthorized");

    let (status, body) = send(&setup.router, get_with_token("/healthz", "wrong")).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "Unauthorized")
    );

    // A bearer token reviewed by the API server, allowed nodes/healthz; the handler sees
    // the user and not the token.
    let (status, body) = send(&setup.router, get_with_token("/healthz", "alice-token")).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "alice token=false")
    );

    // A client certificate from the client CA, allowed nodes/proxy (the second
    // subresource of /healthz).
    let leaf = ca.client(&[(DnType::CommonName, "kube-apiserver-kubelet-client")]);
    let mut request = get_anonymous("/healthz");
    request
        .extensions_mut()
        .insert(PeerCertificates(Arc::new(vec![leaf])));
    let (status, body) = send(&setup.router, request).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "kube-apiserver-kubelet-client token=false")
    );
}

/// HT-02: an authenticated user without the nodes/proxy permission gets 403 Forbidden
/// (user=…, verb=get, resource=nodes, subresource=proxy) on /pods; /stats/summary is
/// authorized as subresource stats; /metrics as metrics; /logs as log.
#[tokio::test]
async fn ht_02_subresources_are_authorized_per_path() {
    let setup = setup(
        None,
        &[("bob", "stats"), ("bob", "metrics"), ("bob", "log")],
        |_| {},
    );

    let (status, body) = send(&setup.router, get_with_token("/pods", "bob-token")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        "Forbidden (user=bob, verb=get, resource=nodes, subresource(s)=[pods proxy])\n"
    );
    assert_eq!(setup.access.seen(), ["pods", "proxy"]);

    for (path, subresource) in [
        ("/stats/summary", "stats"),
        ("/metrics", "metrics"),
        ("/logs/", "log"),
        ("/logs/syslog", "log"),
    ] {
        let (status, body) = send(&setup.router, get_with_token(path, "bob-token")).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "bob token=false"),
            "{path}"
        );
        assert_eq!(setup.access.seen().last().unwrap(), subresource, "{path}");
    }
}

#[tokio::test]
async fn forbidden_text_lists_every_subresource_and_the_verb() {
    let setup = setup(None, &[], |_| {});
    let request = Request::post("/metrics")
        .header("authorization", "Bearer alice-token")
        .body(Body::empty())
        .unwrap();
    let (status, body) = send(&setup.router, request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        "Forbidden (user=alice, verb=create, resource=nodes, subresource(s)=[metrics])\n"
    );
}

#[tokio::test]
async fn authorizer_errors_answer_500_with_the_kubelet_text() {
    let setup = setup(None, &[], |_| {});
    let (status, body) = send(&setup.router, get_with_token("/pods", "error-token")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body,
        "Authorization error (user=error, verb=get, resource=nodes, subresource=pods)"
    );
}

#[tokio::test]
async fn anonymous_requests_are_authorized_as_system_anonymous() {
    let setup = setup(None, &[("system:anonymous", "healthz")], |authn| {
        authn.anonymous.enabled = true;
    });
    let (status, body) = send(&setup.router, get_anonymous("/healthz")).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "system:anonymous token=false")
    );
    let (status, body) = send(&setup.router, get_anonymous("/pods")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        "Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource(s)=[pods proxy])\n"
    );
    // A refused token is not served as anonymous.
    let (status, _) = send(&setup.router, get_with_token("/healthz", "wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tokens_are_reviewed_once_per_cache_ttl_across_requests() {
    let setup = setup(None, &[("alice", "metrics")], |_| {});
    for _ in 0..3 {
        let (status, _) = send(&setup.router, get_with_token("/metrics", "alice-token")).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(setup.tokens.reviews(), 1);
    assert_eq!(setup.access.reviews(), 1);
}

#[test]
fn rejections_carry_the_kubelet_status_and_text() {
    assert_eq!(Rejection::Unauthorized.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(Rejection::Unauthorized.to_string(), "Unauthorized");
    let forbidden = Rejection::Forbidden {
        user: "u".into(),
        verb: "get".into(),
        resource: "nodes".into(),
        subresources: vec!["proxy".into()],
    };
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        forbidden.to_string(),
        "Forbidden (user=u, verb=get, resource=nodes, subresource(s)=[proxy])\n"
    );
}
