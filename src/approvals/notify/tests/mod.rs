//! Tests of notifications against real local HTTP servers standing in for Slack, Teams and webhooks.
