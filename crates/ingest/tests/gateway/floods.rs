//! A connection flood is logged as a summary with counts by reason, not a line per connection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

use crate::common::*;

/// Every WARN event of the gateway, its fields as `name=value` text.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

struct Fields(String);
impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Warnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() == tracing::Level::WARN && meta.target().starts_with("fenhe_ingest") {
            let mut f = Fields(String::new());
            event.record(&mut f);
            self.0.lock().unwrap().push(f.0);
        }
    }
}

/// 200 connections refused at the connection limit make a few summary lines whose counts add up
/// to 200 (the per-reason counter says the same), not 200 warnings.
// One thread: the subscriber set for this thread sees every task of the gateway.
#[tokio::test]
async fn refused_connections_are_summarized_not_logged_one_by_one() {
    let warnings = Warnings::default();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(warnings.clone()));
    let cfg = GatewayConfigExt::with(config(), |c| {
        c.max_connections = 1;
        c.refusal_log_interval = Duration::from_millis(200);
    });
    let h = start(cfg).await;
    let mut d = h.device(STD).await;
    let (bytes, qn) = d.upload("2051", &t(10, 0), 1.0);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;
    for _ in 0..200 {
        let mut refused = h.device(STD).await;
        assert!(refused.closed_within(Duration::from_secs(5)).await);
    }
    eventually("200 refusals counted", || async {
        (h.handle.stats().refused_by_reason.get("connection_limit") == Some(&200)).then_some(())
    })
    .await;
    let summed = || {
        warnings
            .0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|w| w.split("connection_limit=").nth(1))
            .filter_map(|n| n.split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok())
            .sum::<u64>()
    };
    eventually("the summaries to count all 200", || async { (summed() == 200).then_some(()) }).await;
    let lines = warnings.0.lock().unwrap().len();
    assert!(lines <= 20, "{lines} warnings for 200 refused connections");
    h.stop().await;
}
