//! `airlock check`: classify and decide SQL exactly as the proxy would, for testing rules.
