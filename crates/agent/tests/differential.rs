//! Differential conformance: every scenario of `differential/scenarios.rs` under the real
//! kubelet v1.37.2 and under nodelet, at once, compared field by field (see
//! `differential/mod.rs` for how, and `docs/differential.md` for the outcome).
//!
//! The agents run once for the whole suite; each test compares its scenario in that run,
//! prints a readable diff (`cargo test -p agent --test differential -- --nocapture`), and
//! fails on any difference that no named departure explains. Each test's name carries the
//! checklist ids its scenario shows.
//!
//! Needs `cargo xtask setup` (both containerds) and `cargo xtask kube build` (the kubelet);
//! without them the tests skip, or fail with `CI=true`.

mod common;
#[path = "differential/mod.rs"]
mod harness;

use harness::check;

#[test]
fn differential_crash_loop_rp_04_rp_05_rp_06_ph_04() {
    check("crash_loop");
}

#[test]
fn differential_always_exit_zero_rp_01() {
    check("always_exit_zero");
}

#[test]
fn differential_on_failure_rp_02_ph_05() {
    check("on_failure");
}

#[test]
fn differential_never_rp_03_ph_05_ph_16() {
    check("never");
}

#[test]
fn differential_oom_kill_ph_20() {
    check("oom_kill");
}

#[test]
fn differential_init_failure_lc_08_lc_09_ph_02_ph_12() {
    check("init_failure");
}

#[test]
fn differential_init_sequence_lc_06_lc_07() {
    check("init_sequence");
}

#[test]
fn differential_sidecar_lc_10_lc_12() {
    check("sidecar");
}

#[test]
fn differential_image_errors_im_03_im_04_im_08() {
    check("image_errors");
}

#[test]
fn differential_command_not_found_ph_20_rp_06() {
    check("command_not_found");
}

#[test]
fn differential_liveness_pr_03_pr_12_rp_11() {
    check("liveness");
}

#[test]
fn differential_readiness_pr_02_ph_13_ph_14_pr_21() {
    check("readiness");
}

#[test]
fn differential_startup_pr_08_pr_09() {
    check("startup");
}

#[test]
fn differential_prestop_grace_tm_02_tm_12() {
    check("prestop_grace");
}

#[test]
fn differential_deleted_while_running_sp_07_ph_06_ph_07_tm_01() {
    check("deleted_while_running");
}

#[test]
fn differential_termination_message_lc_19_lc_20() {
    check("termination_message");
}

#[test]
fn differential_volumes_vo_01_vo_14_vo_15_vo_17() {
    check("volumes");
}

#[test]
fn differential_api_references_sp_08_vo_08_vo_13() {
    check("api_references");
}

#[test]
fn differential_env_vo_14() {
    check("env");
}

#[test]
fn differential_invalid_manifests_sp_02() {
    check("invalid_manifests");
}

#[test]
fn differential_active_deadline_ph_09() {
    check("active_deadline");
}

#[test]
fn differential_post_start_failure_lc_17() {
    check("post_start_failure");
}

/// Every scenario has a test above and a row in `docs/differential.md`, every departure is
/// explained there, and every departure that applies to all scenarios still covers
/// something.
#[test]
fn differential_suite_is_complete_and_global_departures_hold() {
    let source = include_str!("differential.rs");
    for scenario in harness::scenarios::all() {
        let ids: Vec<String> = scenario
            .ids
            .iter()
            .map(|id| id.to_lowercase().replace('-', "_"))
            .collect();
        let test = format!("fn differential_{}_{}()", scenario.name, ids.join("_"));
        assert!(
            source.contains(&test),
            "no test `{test}` for scenario {}",
            scenario.name
        );
    }
    // docs/differential.md has a row for every scenario and explains every departure.
    let doc = include_str!("../../../docs/differential.md");
    for scenario in harness::scenarios::all() {
        let row = format!("| `{}` |", scenario.name);
        assert!(doc.contains(&row), "docs/differential.md has no row {row}");
        for departure in &scenario.departures {
            let name = format!("`{}`", departure.name);
            assert!(
                doc.contains(&name),
                "docs/differential.md does not explain {name}"
            );
        }
    }
    for departure in harness::scenarios::global_departures() {
        let name = format!("`{}`", departure.name);
        assert!(
            doc.contains(&name),
            "docs/differential.md does not explain {name}"
        );
    }
    let Some(results) = harness::results() else {
        return;
    };
    let results = results
        .as_ref()
        .unwrap_or_else(|e| panic!("the differential run failed: {e}"));
    let stale = harness::compare::stale_global_departures(results);
    assert!(
        stale.is_empty(),
        "global departures that covered nothing: {stale:?}"
    );
    eprintln!("differential: the run took {:.0?}", results.wall);
}
