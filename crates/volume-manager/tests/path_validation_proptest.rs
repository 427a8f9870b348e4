//! proptest: item paths that the atomic writer accepts stay inside the volume, and the
//! writer's reserved names can never be written.

use proptest::prelude::*;
use volume_manager::atomic_writer::validate_path;

fn element() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just(String::new()),
        Just("..data".to_owned()),
        "[a-z.]{1,6}",
        "[^/\u{0}]{1,12}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    (any::<bool>(), prop::collection::vec(element(), 1..6))
        .prop_map(|(abs, parts)| format!("{}{}", if abs { "/" } else { "" }, parts.join("/")))
}

proptest! {
    #[test]
    fn accepted_paths_stay_inside_the_volume(p in path()) {
        if validate_path(&p).is_ok() {
            prop_assert!(!p.starts_with('/'));
            prop_assert!(p.split('/').all(|e| e != ".."));
            prop_assert!(!p.split('/').next().unwrap().starts_with(".."));
            prop_assert!(p.len() <= 4096);
            prop_assert!(p.split('/').any(|e| !e.is_empty() && e != "."));
            // Joined to a volume directory, the path never climbs out of it.
            let joined = std::path::Path::new("/vol").join(&p);
            let mut depth = 0i32;
            for c in joined.components().skip(2) {
                match c {
                    std::path::Component::ParentDir => depth -= 1,
                    std::path::Component::Normal(_) => depth += 1,
                    _ => {}
                }
                prop_assert!(depth >= 0);
            }
        } else {
            prop_assert!(
                p.is_empty()
                    || p.starts_with('/')
                    || p.split('/').any(|e| e == ".." || e.len() > 255)
                    || p.starts_with("..")
                    || p.split('/').all(|e| e.is_empty() || e == "."),
                "rejected for no reason: {p:?}"
            );
        }
    }

    #[test]
    fn parent_elements_and_absolute_paths_are_always_rejected(
        prefix in "[a-z]{0,5}",
        suffix in "[a-z]{0,5}",
    ) {
        let with_parent = format!("{prefix}/../{suffix}");
        let absolute = format!("/{prefix}{suffix}");
        prop_assert!(validate_path(&with_parent).is_err());
        prop_assert!(validate_path(&absolute).is_err());
    }
}
