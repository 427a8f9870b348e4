//! When to send: the deadlines of the kubelet's loops (their periods jittered with
//! [`pod_plan::jitter`], apimachinery's `wait.Jitter`), and the rule that an unchanged node
//! status is patched only once per report period
//! (`kubelet_node_status.go`: `tryUpdateNodeStatus`, `isUpdateStatusPeriodExpired`,
//! `calculateDelay`).

use std::time::{Duration, Instant};

/// The deadline of a loop's next run: `period` from now, stretched at random by up to
/// `factor` of itself ([`pod_plan::jitter`], apimachinery's `wait.Jitter`).
pub(crate) fn jittered_deadline(period: Duration, factor: f64) -> tokio::time::Instant {
    deadline_after(pod_plan::jitter(period, factor, fastrand::f64()))
}

/// The instant `period` from now, or a year from now for a period too long to add.
pub(crate) fn deadline_after(period: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(period)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

/// Whether an unchanged status is due for a report.
///
/// After a report of a change (or the first report), the next unchanged report waits the report
/// frequency plus a random delay in [-½, ½) of it, so the nodes of a cluster that changed
/// together do not all report together afterwards; after a report that was only due by time,
/// the delay is reset to zero, so the period is steady from then on.
#[derive(Debug, Clone)]
pub struct ReportCadence {
    frequency: Duration,
    last_report: Option<Instant>,
    /// Signed, in seconds.
    delay: f64,
}

impl ReportCadence {
    /// A cadence with `nodeStatusReportFrequency` = `frequency`, nothing reported yet.
    pub fn new(frequency: Duration) -> ReportCadence {
        ReportCadence {
            frequency,
            last_report: None,
            delay: 0.0,
        }
    }

    /// Whether a status must be sent at `now`: when it `changed`, or when the report
    /// period has expired (always, before the first report).
    pub fn should_report(&self, changed: bool, now: Instant) -> bool {
        changed || self.expired(now)
    }

    fn expired(&self, now: Instant) -> bool {
        let Some(last) = self.last_report else {
            return true;
        };
        let elapsed = now.saturating_duration_since(last).as_secs_f64();
        elapsed >= self.frequency.as_secs_f64() + self.delay
    }

    /// Picks the delay before a report is sent (`calculateDelay` for a change or a first
    /// report, zero otherwise); `random` is in [0, 1).
    pub fn before_report(&mut self, changed: bool, random: f64) {
        self.delay = if changed || self.last_report.is_none() {
            self.frequency.as_secs_f64() * (random - 0.5)
        } else {
            0.0
        };
    }

    /// Records a report that the API server accepted at `now`.
    pub fn reported(&mut self, now: Instant) {
        self.last_report = Some(now);
    }

    /// Forgets the reports, so the next status is sent whatever it is (a Node registered
    /// again).
    pub fn reset(&mut self) {
        self.last_report = None;
        self.delay = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_status_is_always_reported() {
        let cadence = ReportCadence::new(Duration::from_secs(300));
        assert!(cadence.should_report(false, Instant::now()));
    }

    #[test]
    fn unchanged_status_waits_for_the_report_period_plus_delay() {
        let start = Instant::now();
        let mut cadence = ReportCadence::new(Duration::from_secs(300));
        // A change, with the largest negative delay: -150 s.
        cadence.before_report(true, 0.0);
        cadence.reported(start);
        let at = |s: u64| start + Duration::from_secs(s);
        assert!(!cadence.should_report(false, at(10)));
        assert!(!cadence.should_report(false, at(149)));
        assert!(cadence.should_report(false, at(150)));
        assert!(cadence.should_report(true, at(11)));
        // The period expired: no delay from now on.
        cadence.before_report(false, 0.9);
        cadence.reported(at(150));
        assert!(!cadence.should_report(false, at(449)));
        assert!(cadence.should_report(false, at(450)));
    }

    #[test]
    fn delay_is_within_half_a_period() {
        for random in [0.0, 0.25, 0.5, 0.999] {
            let start = Instant::now();
            let mut cadence = ReportCadence::new(Duration::from_secs(300));
            cadence.before_report(true, random);
            cadence.reported(start);
            assert!(!cadence.should_report(false, start + Duration::from_secs(149)));
            assert!(cadence.should_report(false, start + Duration::from_secs(450)));
        }
    }
}
