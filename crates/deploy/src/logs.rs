//! The service's logs from CloudWatch Logs: a window of events, and a
//! follower that polls for new ones without repeating any.

use std::collections::HashSet;

use serde::Serialize;

use crate::{aws_error, DeployError};

#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    pub id: String,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub stream: String,
    pub message: String,
}

/// Events of `group` from `start` (ms since the epoch) on, oldest first.
pub async fn since(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    start: i64,
) -> Result<Vec<LogLine>, DeployError> {
    let mut lines = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = logs
            .filter_log_events()
            .log_group_name(group)
            .start_time(start)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| aws_error(&format!("reading the log group {group}"), e))?;
        for e in page.events() {
            lines.push(LogLine {
                id: e.event_id().unwrap_or_default().to_string(),
                timestamp: e.timestamp().unwrap_or_default(),
                stream: e.log_stream_name().unwrap_or_default().to_string(),
                message: e.message().unwrap_or_default().trim_end().to_string(),
            });
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    lines.sort_by_key(|l| l.timestamp);
    Ok(lines)
}

/// Remembers what was shown, so each poll prints only new events. Polls
/// start at the newest timestamp seen (events can share a millisecond).
pub struct Follower {
    pub group: String,
    pub start: i64,
    seen: HashSet<String>,
}

impl Follower {
    pub fn new(group: &str, start: i64) -> Self {
        Follower {
            group: group.to_string(),
            start,
            seen: HashSet::new(),
        }
    }

    pub async fn poll(
        &mut self,
        logs: &aws_sdk_cloudwatchlogs::Client,
    ) -> Result<Vec<LogLine>, DeployError> {
        let lines = since(logs, &self.group, self.start).await?;
        let fresh: Vec<LogLine> = lines
            .into_iter()
            .filter(|l| self.seen.insert(l.id.clone()))
            .collect();
        if let Some(last) = fresh.iter().map(|l| l.timestamp).max() {
            self.start = self.start.max(last);
        }
        Ok(fresh)
    }
}
