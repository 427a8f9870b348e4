//! The two-way strategic merge diff that both status patches are built from (the part of
//! apimachinery's `strategicpatch.CreateTwoWayMergePatch` they use), over JSON values: objects
//! merge by key, lists with a merge key element by element, anything else is replaced.
//! `pods/<name>/status` ([`crate::pod_status_patch`]) and `nodes/<name>/status`
//! ([`crate::node_status_patch`]) differ only in which fields merge by which key.

use serde_json::{Map, Value};

/// A two-way merge of plain values: objects by key (`null` deletes a key), anything else
/// replaced whole.
pub(crate) fn diff_value(old: Option<&Value>, new: Option<&Value>) -> Option<Value> {
    match (old, new) {
        (a, b) if a == b => None,
        (_, None | Some(Value::Null)) => Some(Value::Null),
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut diff = Map::new();
            for (key, value) in b {
                if let Some(d) = diff_value(a.get(key), Some(value)) {
                    diff.insert(key.clone(), d);
                }
            }
            for key in a.keys().filter(|key| !b.contains_key(*key)) {
                diff.insert(key.clone(), Value::Null);
            }
            (!diff.is_empty()).then_some(Value::Object(diff))
        }
        (_, Some(b)) => Some(b.clone()),
    }
}

/// A list merged by `key`: changed or new elements (a changed one with only its changed fields
/// and the key), `$patch: delete` for removed ones; and, when anything changed including the
/// order, the new order of the keys (`$setElementOrder`).
pub(crate) fn diff_merge_list(
    old: Option<&Value>,
    new: Option<&Value>,
    key: &str,
) -> (Option<Value>, Option<Value>) {
    let as_list = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
    let (old, new) = (as_list(old), as_list(new));
    let key_of = |v: &Value| v.get(key).cloned();
    let mut diff = Vec::new();
    for element in &new {
        match old.iter().find(|o| key_of(o) == key_of(element)) {
            None => diff.push(element.clone()),
            Some(previous) => {
                if let Some(Value::Object(mut changed)) = diff_value(Some(previous), Some(element))
                {
                    if let Some(k) = key_of(element) {
                        changed.insert(key.to_owned(), k);
                    }
                    diff.push(Value::Object(changed));
                }
            }
        }
    }
    for element in &old {
        if !new.iter().any(|n| key_of(n) == key_of(element)) {
            let mut delete = Map::new();
            if let Some(k) = key_of(element) {
                delete.insert(key.to_owned(), k);
            }
            delete.insert("$patch".to_owned(), Value::String("delete".to_owned()));
            diff.push(Value::Object(delete));
        }
    }
    let old_order: Vec<_> = old.iter().map(key_of).collect();
    let new_order: Vec<_> = new.iter().map(key_of).collect();
    let reordered = {
        let kept: Vec<_> = old_order.iter().filter(|k| new_order.contains(k)).collect();
        let common: Vec<_> = new_order.iter().filter(|k| old_order.contains(k)).collect();
        kept != common
    };
    let order = (!new.is_empty() && (!diff.is_empty() || reordered)).then(|| {
        Value::Array(
            new_order
                .into_iter()
                .flatten()
                .map(|k| {
                    let mut entry = Map::new();
                    entry.insert(key.to_owned(), k);
                    Value::Object(entry)
                })
                .collect(),
        )
    });
    (order, (!diff.is_empty()).then_some(Value::Array(diff)))
}
