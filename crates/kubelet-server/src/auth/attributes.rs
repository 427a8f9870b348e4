//! What a kubelet API request asks to do, in authorization terms: the kubelet's
//! `nodeAuthorizerAttributesGetter` (`pkg/kubelet/server/auth.go`).

use axum::http::Method;

use super::user::UserInfo;

/// The resource part of an authorization request, as a SubjectAccessReview's
/// `spec.resourceAttributes` carries it. For the kubelet API it is always the node
/// object: group `""`, version `v1`, resource `nodes`, the node's name, a subresource.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ResourceAttributes {
    /// The API verb (`get`, `create`, ...; empty for HTTP methods without one).
    pub verb: String,
    /// The namespace (empty: nodes are cluster scoped).
    pub namespace: String,
    /// The API group (empty: the core group).
    pub group: String,
    /// The API version (`v1`).
    pub version: String,
    /// The resource (`nodes`).
    pub resource: String,
    /// The subresource (`proxy`, `stats`, `metrics`, `log`, `pods`, ...).
    pub subresource: String,
    /// The object's name (the node's name).
    pub name: String,
}

/// One authorization question: may `user` do `resource` (requested at `path`)?
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attributes {
    /// Who asks.
    pub user: UserInfo,
    /// What on which object.
    pub resource: ResourceAttributes,
    /// The request path, for logs (not part of a resource review).
    pub path: String,
}

/// The API verb of an HTTP method, as the kubelet maps it: `POST` create, `GET` get,
/// `PUT` update, `PATCH` patch, `DELETE` delete, and the empty verb for anything else
/// (`HEAD` and `OPTIONS` included, exactly as the kubelet does).
pub fn api_verb(method: &Method) -> &'static str {
    match *method {
        Method::POST => "create",
        Method::GET => "get",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "",
    }
}

/// The kubelet's `isSubpath`: `path` is `prefix` (its trailing `/` ignored) or below it.
fn is_subpath(path: &str, prefix: &str) -> bool {
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The `nodes` subresources a request for `path` is authorized as, tried in this order
/// until one is allowed.
///
/// With `KubeletFineGrainedAuthz` (GA and locked on since Kubernetes 1.36, so always on
/// here) a finer subresource comes first: `/pods` and `/allocatedPods` → `pods`,
/// `/healthz` → `healthz`, `/configz` → `configz`, `/runningpods/` → `pods`. Then
/// `/stats/` → `stats`, `/metrics` → `metrics`, `/logs/` → `log`, `/checkpoint/` →
/// `checkpoint`, `/statusz` → `statusz`, `/flagz` → `configz`, and everything else →
/// `proxy`. So `/pods` is `[pods, proxy]`, `/stats/summary` is `[stats]`.
///
/// The path is the request's raw path, the one the router matches, so that what is
/// authorized is what is served.
///
/// ```
/// use kubelet_server::auth::node_subresources;
///
/// assert_eq!(node_subresources("/pods"), ["pods", "proxy"]);
/// assert_eq!(node_subresources("/stats/summary"), ["stats"]);
/// assert_eq!(node_subresources("/exec/default/web/app"), ["proxy"]);
/// ```
pub fn node_subresources(path: &str) -> Vec<&'static str> {
    let mut subresources = Vec::with_capacity(2);
    let fine_grained = [
        ("/allocatedPods", "pods"),
        ("/pods", "pods"),
        ("/healthz", "healthz"),
        ("/configz", "configz"),
        ("/runningpods/", "pods"),
    ];
    if let Some((_, subresource)) = fine_grained
        .iter()
        .find(|(prefix, _)| is_subpath(path, prefix))
    {
        subresources.push(*subresource);
    }
    let coarse = [
        ("/stats/", "stats"),
        ("/metrics", "metrics"),
        ("/logs/", "log"),
        ("/checkpoint/", "checkpoint"),
        ("/statusz", "statusz"),
        ("/flagz", "configz"),
    ];
    subresources.push(
        coarse
            .iter()
            .find(|(prefix, _)| is_subpath(path, prefix))
            .map_or("proxy", |(_, subresource)| *subresource),
    );
    subresources
}

/// The authorization questions for a request by `user` to the kubelet of `node_name`, in
/// the order they are tried (the kubelet's `GetRequestAttributes`): one per
/// [`node_subresources`] entry, all on `nodes/<node_name>` in the core group `v1`, with
/// the verb of [`api_verb`].
pub fn node_request_attributes(
    node_name: &str,
    user: &UserInfo,
    method: &Method,
    path: &str,
) -> Vec<Attributes> {
    let verb = api_verb(method);
    node_subresources(path)
        .into_iter()
        .map(|subresource| Attributes {
            user: user.clone(),
            resource: ResourceAttributes {
                verb: verb.to_owned(),
                namespace: String::new(),
                group: String::new(),
                version: "v1".to_owned(),
                resource: "nodes".to_owned(),
                subresource: subresource.to_owned(),
                name: node_name.to_owned(),
            },
            path: path.to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_per_path_follow_the_kubelet() {
        let table: &[(&str, &[&str])] = &[
            ("/pods", &["pods", "proxy"]),
            ("/pods/", &["pods", "proxy"]),
            ("/allocatedPods", &["pods", "proxy"]),
            ("/runningpods/", &["pods", "proxy"]),
            ("/runningpods", &["pods", "proxy"]),
            ("/healthz", &["healthz", "proxy"]),
            ("/healthz/ping", &["healthz", "proxy"]),
            ("/configz", &["configz", "proxy"]),
            ("/flagz", &["configz"]),
            ("/statusz", &["statusz"]),
            ("/stats", &["stats"]),
            ("/stats/summary", &["stats"]),
            ("/stats/default/web/uid/app", &["stats"]),
            ("/metrics", &["metrics"]),
            ("/metrics/cadvisor", &["metrics"]),
            ("/metrics/resource", &["metrics"]),
            ("/metrics/probes", &["metrics"]),
            ("/logs/x", &["log"]),
            ("/logs/", &["log"]),
            ("/checkpoint/default/web/app", &["checkpoint"]),
            ("/exec/default/web/app", &["proxy"]),
            ("/attach/default/web/app", &["proxy"]),
            ("/portForward/default/web", &["proxy"]),
            ("/run/default/web/app", &["proxy"]),
            ("/containerLogs/default/web/app", &["proxy"]),
            ("/debug/pprof/", &["proxy"]),
            ("/", &["proxy"]),
            // Near misses are not the resource they start like.
            ("/podsx", &["proxy"]),
            ("/statsx", &["proxy"]),
            ("/metricsx", &["proxy"]),
            ("/logsx", &["proxy"]),
            ("/healthzx", &["proxy"]),
            ("/runningPods/", &["proxy"]),
            ("/checkpointx", &["proxy"]),
        ];
        for (path, expected) in table {
            assert_eq!(node_subresources(path), *expected, "{path}");
        }
    }

    #[test]
    fn verbs_follow_the_http_method() {
        let table = [
            (Method::GET, "get"),
            (Method::POST, "create"),
            (Method::PUT, "update"),
            (Method::PATCH, "patch"),
            (Method::DELETE, "delete"),
            (Method::HEAD, ""),
            (Method::OPTIONS, ""),
        ];
        for (method, verb) in table {
            assert_eq!(api_verb(&method), verb, "{method}");
        }
    }

    #[test]
    fn attributes_name_the_node_object() {
        let user = UserInfo::new("alice");
        let attrs = node_request_attributes("node-a", &user, &Method::POST, "/exec/ns/pod/c");
        assert_eq!(
            attrs,
            [Attributes {
                user,
                resource: ResourceAttributes {
                    verb: "create".into(),
                    namespace: String::new(),
                    group: String::new(),
                    version: "v1".into(),
                    resource: "nodes".into(),
                    subresource: "proxy".into(),
                    name: "node-a".into(),
                },
                path: "/exec/ns/pod/c".into(),
            }]
        );
    }
}
