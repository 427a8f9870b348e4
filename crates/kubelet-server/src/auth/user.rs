//! Who made a request: the apiserver's `user.Info`.

use std::collections::BTreeMap;

/// The user name of a request without credentials (`user.Anonymous`).
pub const ANONYMOUS: &str = "system:anonymous";
/// The group of every authenticated user (`user.AllAuthenticated`).
pub const ALL_AUTHENTICATED: &str = "system:authenticated";
/// The group of the anonymous user (`user.AllUnauthenticated`).
pub const ALL_UNAUTHENTICATED: &str = "system:unauthenticated";
/// The `extra` key naming the credential a user authenticated with (`user.CredentialIDKey`).
pub const CREDENTIAL_ID_KEY: &str = "authentication.kubernetes.io/credential-id";

/// An authenticated user, as the apiserver's `user.DefaultInfo`: put in each authorized
/// request's extensions by the [`Auth`](super::Auth) layer, so handlers can log who asked.
///
/// ```
/// use axum::Extension;
/// use kubelet_server::auth::UserInfo;
///
/// async fn handler(Extension(user): Extension<UserInfo>) -> String {
///     format!("hello {}", user.name)
/// }
/// # let _ = axum::Router::<()>::new().route("/", axum::routing::get(handler));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct UserInfo {
    /// The user name (`system:node:node-a`, `kube-apiserver-kubelet-client`).
    pub name: String,
    /// A unique identifier of the user, empty when the authenticator knows none.
    pub uid: String,
    /// The groups the user is in.
    pub groups: Vec<String>,
    /// Whatever else the authenticator knows (scopes, the credential ID).
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// A user named `name`, in no group.
    pub fn new(name: impl Into<String>) -> Self {
        UserInfo {
            name: name.into(),
            ..UserInfo::default()
        }
    }

    /// This user with `group` added.
    pub fn with_group(mut self, group: impl Into<String>) -> Self {
        self.groups.push(group.into());
        self
    }

    /// The anonymous user: [`ANONYMOUS`] in [`ALL_UNAUTHENTICATED`].
    pub fn anonymous() -> Self {
        UserInfo::new(ANONYMOUS).with_group(ALL_UNAUTHENTICATED)
    }

    /// Adds [`ALL_AUTHENTICATED`] unless the user is anonymous or already in
    /// `system:authenticated` or `system:unauthenticated`, as the apiserver's
    /// `AuthenticatedGroupAdder` does after every successful authenticator.
    pub(crate) fn add_authenticated_group(mut self) -> Self {
        let marked = self
            .groups
            .iter()
            .any(|group| group == ALL_AUTHENTICATED || group == ALL_UNAUTHENTICATED);
        if self.name != ANONYMOUS && !marked {
            self.groups.push(ALL_AUTHENTICATED.to_owned());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authenticated_group_is_added_once_and_never_to_anonymous() {
        let user = UserInfo::new("alice")
            .with_group("dev")
            .add_authenticated_group();
        assert_eq!(user.groups, ["dev", ALL_AUTHENTICATED]);
        assert_eq!(user.clone().add_authenticated_group(), user);
        assert_eq!(
            UserInfo::anonymous().add_authenticated_group(),
            UserInfo::anonymous()
        );
        let odd = UserInfo::new("bob").with_group(ALL_UNAUTHENTICATED);
        assert_eq!(odd.clone().add_authenticated_group(), odd);
    }
}
