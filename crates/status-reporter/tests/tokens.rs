//! [`TokenManager`] against the real control plane, as node `system:node:<name>`: tokens for
//! the service account of a pod bound to the node, bound to that pod, checked by the admin
//! with a TokenReview; refreshed once 80 % of their lifetime has passed (on a shifted clock,
//! since the API's shortest lifetime is 10 minutes).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec, TokenReviewStatus};
use k8s_openapi::api::core::v1::{Pod, ServiceAccountTokenProjection};
use kube::Api;
use kube::api::PostParams;
use status_reporter::{Error, ServiceAccountTokenRequest, TokenManager};
use support::*;
use test_env::{Cluster, unique_name, with_cleanup};

const AUDIENCE: &str = "nodelet-test";
const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";

/// Registers node `name` and creates, in namespace `name`, the ServiceAccount `app` and pod
/// `web` bound to the node with a projected token for [`AUDIENCE`] (600 s), and pod
/// `elsewhere` of the same service account bound to another node. Returns both pods.
async fn scene(cluster: &Cluster, name: &str) -> (Pod, Pod) {
    let manifests = format!(
        r#"{}---
apiVersion: v1
kind: Pod
metadata: {{ name: web, namespace: {name} }}
spec:
  nodeName: {name}
  serviceAccountName: app
  containers:
  - name: app
    image: busybox
    volumeMounts:
    - {{ name: vault-token, mountPath: /var/run/vault }}
  volumes:
  - name: vault-token
    projected:
      sources:
      - serviceAccountToken: {{ audience: {AUDIENCE}, expirationSeconds: 600, path: token }}
---
apiVersion: v1
kind: Pod
metadata: {{ name: elsewhere, namespace: {name} }}
spec:
  nodeName: {name}-other
  serviceAccountName: app
  containers:
  - {{ name: app, image: busybox }}
"#,
        scene_manifests(name)
    );
    kubectl_with_input(cluster, &["apply", "-f", "-"], &manifests)
        .await
        .expect("the admin creates the scene");
    let mut pods = Vec::new();
    for pod in ["web", "elsewhere"] {
        let text = kubectl(cluster, &["get", "pod", pod, "-n", name, "-o", "json"])
            .await
            .expect("the pod");
        pods.push(serde_json::from_str::<Pod>(&text).expect("pod JSON"));
    }
    let elsewhere = pods.pop().unwrap();
    (pods.pop().unwrap(), elsewhere)
}

/// The projection named in pod `web`.
fn projection(pod: &Pod) -> ServiceAccountTokenProjection {
    pod.spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|v| v.projected.as_ref())
        .flat_map(|p| p.sources.iter().flatten())
        .filter_map(|s| s.service_account_token.clone())
        .find(|t| t.audience.as_deref() == Some(AUDIENCE))
        .expect("the vault-token projection")
}

/// The admin's TokenReview of `token`.
async fn review(
    admin: &kube::Client,
    token: &str,
    audiences: Option<&[&str]>,
) -> TokenReviewStatus {
    let review = TokenReview {
        spec: TokenReviewSpec {
            token: token.to_owned(),
            audiences: audiences.map(|a| a.iter().map(|s| (*s).to_owned()).collect()),
        },
        ..TokenReview::default()
    };
    Api::<TokenReview>::all(admin.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("a TokenReview")
        .status
        .expect("a review status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_tokens_are_bound_to_the_pod_and_refreshed() {
    let Some(cluster) = Cluster::require("service-account tokens") else {
        return;
    };
    let name = unique_name("sr-token");
    let (client, requests) = counting_node_client(&cluster, &name).await;
    let admin = status_reporter::client_from_kubeconfig(cluster.admin_kubeconfig())
        .await
        .expect("the admin's client");
    let scenario = async {
        let (pod, elsewhere) = scene(&cluster, &name).await;
        let uid = pod.metadata.uid.clone().expect("a pod UID");
        // A clock the test can move forward.
        let offset = Arc::new(AtomicI64::new(0));
        let clock = {
            let offset = offset.clone();
            move || Timestamp::now() + SignedDuration::from_secs(offset.load(Ordering::SeqCst))
        };
        let tokens = TokenManager::with_clock(client, clock);
        let token_path = "/namespaces/".to_owned() + &name + "/serviceaccounts/app/token";

        let request = ServiceAccountTokenRequest::for_projection(&pod, &projection(&pod))
            .expect("the projection's request");
        assert_eq!(request.expiration_seconds, 600);
        let first = tokens.token(&request).await.expect("a token");
        let lifetime = first.expiration.duration_since(Timestamp::now());
        assert!(
            lifetime > SignedDuration::from_secs(590) && lifetime <= SignedDuration::from_secs(600),
            "{lifetime:?}"
        );
        assert_eq!(first.audiences, [AUDIENCE]);
        assert!(!format!("{first:?}").contains(first.token()));

        let status = review(&admin, first.token(), Some(&[AUDIENCE])).await;
        assert_eq!(status.authenticated, Some(true), "{status:?}");
        assert_eq!(
            status.audiences.as_deref(),
            Some(&[AUDIENCE.to_owned()][..])
        );
        let user = status.user.expect("the token's user");
        assert_eq!(
            user.username.as_deref(),
            Some(format!("system:serviceaccount:{name}:app").as_str())
        );
        let extra = user.extra.expect("the pod claims");
        assert_eq!(extra["authentication.kubernetes.io/pod-name"], ["web"]);
        assert_eq!(
            extra["authentication.kubernetes.io/pod-uid"],
            std::slice::from_ref(&uid)
        );
        assert_eq!(
            extra["authentication.kubernetes.io/node-name"],
            std::slice::from_ref(&name)
        );
        // The API server's audience does not accept it.
        let status = review(&admin, first.token(), None).await;
        assert_ne!(status.authenticated, Some(true), "{status:?}");

        // Served from the cache until 80 % of its 600 s have passed.
        offset.store(470 - 11, Ordering::SeqCst);
        assert_eq!(tokens.token(&request).await.unwrap(), first);
        assert_eq!(
            requests.count("POST", &token_path),
            1,
            "{:?}",
            requests.all()
        );
        offset.store(481, Ordering::SeqCst);
        let refreshed = tokens.token(&request).await.expect("a refreshed token");
        assert_ne!(refreshed.token(), first.token());
        assert_eq!(
            requests.count("POST", &token_path),
            2,
            "{:?}",
            requests.all()
        );
        let status = review(&admin, refreshed.token(), Some(&[AUDIENCE])).await;
        assert_eq!(status.authenticated, Some(true), "{status:?}");
        offset.store(0, Ordering::SeqCst);

        // The kube-api-access volume's token: the API server's audience, 3607 s.
        let api_request = ServiceAccountTokenRequest::for_pod(&pod, None, Some(3607)).unwrap();
        let api_token = tokens.token(&api_request).await.expect("an API token");
        assert_eq!(api_token.audiences, [API_AUDIENCE]);
        let status = review(&admin, api_token.token(), None).await;
        assert_eq!(status.authenticated, Some(true), "{status:?}");
        assert_eq!(tokens.cached(), 2);

        // An audience the pod does not project is refused by NodeRestriction...
        let other =
            ServiceAccountTokenRequest::for_pod(&pod, Some("somewhere-else"), None).unwrap();
        let err = tokens.token(&other).await.expect_err("audience refused");
        assert!(matches!(err, Error::TokenRequest { .. }), "{err}");
        let message = err.to_string();
        for expected in [
            "web",
            &uid,
            "service account app",
            "somewhere-else",
            "Forbidden",
        ] {
            assert!(message.contains(expected), "{expected:?} in {message}");
        }
        // ... and so is a token bound to a pod of another node.
        let err = tokens
            .token(
                &ServiceAccountTokenRequest::for_projection(&elsewhere, &projection(&pod)).unwrap(),
            )
            .await
            .expect_err("a pod of another node");
        assert!(
            err.to_string().contains("different node") || err.to_string().contains("forbidden"),
            "{err}"
        );

        tokens.forget_pod(&uid);
        assert_eq!(tokens.cached(), 0);
    };
    with_cleanup(scenario, delete_scene(&cluster, &name)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_a_failed_refresh_serves_the_old_token_until_it_expires() {
    let Some(cluster) = Cluster::require("service-account token refresh failures") else {
        return;
    };
    let name = unique_name("sr-tokfail");
    let client = node_client(&cluster, &name).await;
    let scenario = async {
        let (pod, _) = scene(&cluster, &name).await;
        let offset = Arc::new(AtomicI64::new(0));
        let clock = {
            let offset = offset.clone();
            move || Timestamp::now() + SignedDuration::from_secs(offset.load(Ordering::SeqCst))
        };
        let tokens = TokenManager::with_clock(client, clock);
        let request = ServiceAccountTokenRequest::for_projection(&pod, &projection(&pod)).unwrap();
        let first = tokens.token(&request).await.expect("a token");

        // The pod is deleted: a refresh is refused, the old token is served while valid.
        kubectl(
            &cluster,
            &[
                "delete",
                "pod",
                "web",
                "-n",
                &name,
                "--force",
                "--grace-period=0",
            ],
        )
        .await
        .expect("deleting the pod");
        for at in [500, 570] {
            offset.store(at, Ordering::SeqCst);
            let served = tokens.token(&request).await.expect("the old token");
            assert_eq!(served, first, "{at} s after the request");
        }

        // Once expired, the failure is an error naming the pod.
        offset.store(601, Ordering::SeqCst);
        let err = tokens.token(&request).await.expect_err("expired");
        assert!(matches!(err, Error::TokenExpired { .. }), "{err}");
        assert!(err.to_string().contains("web") && !err.to_string().contains(first.token()));
        // A minute later the expired token has been dropped (the kubelet's cleanup): the
        // failure is the request's own.
        offset.store(700, Ordering::SeqCst);
        let err = tokens.token(&request).await.expect_err("no token");
        assert!(matches!(err, Error::TokenRequest { .. }), "{err}");
        assert_eq!(tokens.cached(), 0);
    };
    with_cleanup(scenario, delete_scene(&cluster, &name)).await;
}
