//! Splitting: a SQL string becomes one token list per statement.
//!
//! The string is tokenized once; statements end at semicolons outside strings,
//! dollar-quoted bodies, comments and quoted identifiers (the tokenizer already
//! swallowed those). One exception follows PostgreSQL's grammar: inside a
//! `CREATE ... BEGIN ATOMIC ... END` routine body, semicolons separate the
//! body's statements, not top-level ones. Pieces holding only whitespace and
//! comments are dropped, as PostgreSQL drops empty statements.
//!
//! MySQL's compound bodies (`CREATE PROCEDURE ... BEGIN ...; ...; END`) nest
//! blocks in ways a token scan cannot follow reliably: from such a BEGIN on,
//! the rest of the string stays one piece, which then cannot parse and is
//! `Unknown` (see [`Bodies`]).

use sqlparser::dialect::Dialect;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, TokenizerError};

/// How a dialect writes routine bodies that contain semicolons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bodies {
    /// PostgreSQL: `CREATE ... BEGIN ATOMIC ... END`, tracked exactly.
    BeginAtomic,
    /// MySQL: `CREATE ... BEGIN ... END`; the rest of the string is one piece.
    BeginToEnd,
}

/// Tokenizes `sql` with `dialect` and cuts the tokens into statements.
pub(super) fn statements(
    dialect: &dyn Dialect,
    bodies: Bodies,
    sql: &str,
) -> Result<Vec<Vec<TokenWithSpan>>, TokenizerError> {
    let tokens = Tokenizer::new(dialect, sql)
        .with_unescape(false)
        .tokenize_with_location()?;
    Ok(cut(tokens, bodies))
}

fn cut(tokens: Vec<TokenWithSpan>, bodies: Bodies) -> Vec<Vec<TokenWithSpan>> {
    let mut pieces = Vec::new();
    let mut piece = Vec::new();
    let mut body = RoutineBody::new(bodies);
    for token in tokens {
        if token.token == Token::SemiColon && !body.open {
            finish(&mut pieces, std::mem::take(&mut piece));
            body = RoutineBody::new(bodies);
            continue;
        }
        body.see(&token.token);
        piece.push(token);
    }
    finish(&mut pieces, piece);
    pieces
}

fn finish(pieces: &mut Vec<Vec<TokenWithSpan>>, piece: Vec<TokenWithSpan>) {
    if piece.iter().any(|t| is_significant(&t.token)) {
        pieces.push(piece);
    }
}

/// Tracks `CREATE ... BEGIN ATOMIC ... END`, counting `CASE ... END` inside it.
struct RoutineBody {
    bodies: Bodies,
    words_seen: usize,
    is_create: bool,
    after_begin: bool,
    open: bool,
    case_depth: usize,
}

impl RoutineBody {
    fn new(bodies: Bodies) -> RoutineBody {
        RoutineBody {
            bodies,
            words_seen: 0,
            is_create: false,
            after_begin: false,
            open: false,
            case_depth: 0,
        }
    }

    fn see(&mut self, token: &Token) {
        let Token::Word(word) = token else {
            if is_significant(token) {
                self.after_begin = false;
            }
            return;
        };
        let bare =
            |keyword: &str| word.quote_style.is_none() && word.value.eq_ignore_ascii_case(keyword);
        self.words_seen += 1;
        if self.words_seen == 1 {
            self.is_create = bare("CREATE");
        }
        if self.open && self.bodies == Bodies::BeginToEnd {
            return;
        }
        if self.is_create && self.bodies == Bodies::BeginToEnd && bare("BEGIN") {
            self.open = true;
            return;
        }
        if self.open {
            if bare("CASE") {
                self.case_depth += 1;
            } else if bare("END") {
                match self.case_depth {
                    0 => self.open = false,
                    _ => self.case_depth -= 1,
                }
            }
        } else if self.is_create && self.after_begin && bare("ATOMIC") {
            self.open = true;
        }
        self.after_begin = bare("BEGIN");
    }
}

/// Anything but whitespace and comments.
pub(super) fn is_significant(token: &Token) -> bool {
    !matches!(token, Token::Whitespace(_) | Token::EOF)
}

/// The first `N` significant tokens' words, upper-cased when unquoted words
/// (quoted identifiers and other tokens give an empty string).
pub(super) fn leading_words<const N: usize>(tokens: &[TokenWithSpan]) -> [String; N] {
    let mut words: [String; N] = std::array::from_fn(|_| String::new());
    let significant = tokens.iter().filter(|t| is_significant(&t.token));
    for (slot, token) in words.iter_mut().zip(significant) {
        if let Token::Word(word) = &token.token {
            if word.quote_style.is_none() {
                *slot = word.value.to_ascii_uppercase();
            }
        }
    }
    words
}
