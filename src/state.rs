//! What every session of a running airlock shares: configuration, rules, the
//! approvals queue, the audit log and the cancel keys.

use std::sync::Arc;

use crate::approvals::Approvals;
use crate::audit::AuditLog;
use crate::config::Config;
use crate::pg::cancel::CancelKeys;
use crate::policy::Rules;

pub struct State {
    pub config: Arc<Config>,
    pub rules: Rules,
    pub approvals: Arc<Approvals>,
    pub audit: AuditLog,
    pub cancel: CancelKeys,
}
