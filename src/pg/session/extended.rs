//! The extended-protocol messages that only prepare what a later Execute
//! runs: Parse, Bind, Describe and Close are remembered, then passed on to the
//! active link (see [`super::writer`] for what the writer needs of them).

use std::sync::Arc;

use tokio::io::AsyncWrite;

use super::pipeline::Sent;
use super::statements::{Portal, Prepared};
use super::{Session, SessionError};
use crate::pg::frame::{Frame, Malformed};
use crate::pg::message;

fn malformed(e: Malformed) -> SessionError {
    SessionError::Refused(e.to_string())
}

impl<W: AsyncWrite + Unpin> Session<W> {
    /// Parse: remembered (with its frame, to prepare it again on the writer), then passed on.
    pub(super) fn parse(&mut self, frame: Frame) -> Result<(), SessionError> {
        let parse = message::parse_parse(frame.body()).map_err(malformed)?;
        let prepared = match parse.query {
            Ok(sql) => self.state.parsed.text(sql),
            Err(()) => Prepared::unknown("", "statement text is not valid UTF-8"),
        };
        self.statements.parse(parse.name, prepared);
        self.parses
            .insert(parse.name.to_string(), frame.raw.clone());
        if let Some(link) = self.writer.as_mut() {
            link.statements.insert(parse.name.to_string());
            if !parse.name.is_empty() {
                self.replay.push((Sent::Parse, frame.raw.clone()));
            }
        }
        self.extended(frame.raw, Sent::Parse);
        Ok(())
    }

    /// Bind: the portal remembered with its statement, parameters and frame, then passed on.
    pub(super) fn bind(&mut self, frame: Frame) -> Result<(), SessionError> {
        if self.batch.messages == 0 && self.link().pipeline.lock().unwrap().tx_status == b'I' {
            // A new batch outside a block: earlier portals are gone upstream too.
            self.statements.clear_portals();
        }
        let bind = message::parse_bind(frame.body()).map_err(malformed)?;
        let portal = Portal {
            prepared: self.statements.for_bind(bind.statement),
            // Slices of the frame, which stays alive for the replay anyway.
            params: bind
                .params
                .iter()
                .map(|p| p.map(|v| frame.raw.slice_ref(v)))
                .collect(),
            // An empty slice shares one allocation; most Binds send no formats.
            formats: if bind.formats.is_empty() {
                Arc::default()
            } else {
                bind.formats.as_slice().into()
            },
            statement: bind.statement.to_string(),
            bind: frame.raw.clone(),
        };
        self.statements.bind(bind.portal, portal);
        if self.writer.is_some() {
            self.ensure_statement(bind.statement);
            let link = self.writer.as_mut().expect("checked");
            link.portals.insert(bind.portal.to_string());
        }
        self.extended(frame.raw, Sent::Bind);
        Ok(())
    }

    /// Describe: passed on (to the writer after what it names is there).
    pub(super) fn describe(&mut self, frame: Frame) -> Result<(), SessionError> {
        let (kind, name) = message::parse_target(frame.body(), "Describe").map_err(malformed)?;
        match kind {
            b'S' => self.ensure_statement(name),
            _ => self.ensure_portal(name),
        }
        self.extended(frame.raw, Sent::Describe);
        Ok(())
    }

    /// Close: forgotten here, on the writer, and (for a named statement) on the reader when the writer closes.
    pub(super) fn close(&mut self, frame: Frame) -> Result<(), SessionError> {
        let (kind, name) = message::parse_target(frame.body(), "Close").map_err(malformed)?;
        self.statements.close(kind, name);
        if let Some(link) = self.writer.as_mut() {
            if kind == b'S' {
                link.statements.remove(name);
                if !name.is_empty() {
                    self.replay.push((Sent::Close, frame.raw.clone()));
                }
            } else {
                link.portals.remove(name);
            }
        }
        self.extended(frame.raw, Sent::Close);
        Ok(())
    }
}
