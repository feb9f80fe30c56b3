//! SQL shown to a reviewer: the exact bytes the agent sent, HTML-escaped, with
//! keywords, literals and comments marked, and invisible or direction-changing
//! characters made visible (a statement must not read differently than it runs).

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Location, Token, Tokenizer, Whitespace};

use super::html::esc_visible;

/// `sql` as HTML (for inside a `<pre>`). Falls back to plain escaped text when
/// the tokenizer cannot read it.
pub fn sql(sql: &str) -> String {
    highlighted(sql).unwrap_or_else(|| esc_visible(sql))
}

fn highlighted(sql: &str) -> Option<String> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let lines = line_starts(sql);
    let mut out = String::with_capacity(sql.len() * 2);
    let mut cursor = 0;
    for t in &tokens {
        let class = match &t.token {
            Token::EOF => continue,
            Token::Word(w) if w.quote_style.is_none() && w.keyword != Keyword::NoKeyword => "k",
            Token::Number(..) => "n",
            Token::Placeholder(_) => "p",
            Token::Whitespace(Whitespace::SingleLineComment { .. })
            | Token::Whitespace(Whitespace::MultiLineComment(_)) => "c",
            Token::Whitespace(_) | Token::Word(_) => "",
            Token::SingleQuotedString(_)
            | Token::EscapedStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_) => "s",
            _ => "",
        };
        let start = offset(sql, &lines, t.span.start)?;
        let end = offset(sql, &lines, t.span.end)?;
        if start < cursor || end < start {
            return None;
        }
        out.push_str(&esc_visible(&sql[cursor..start]));
        let text = esc_visible(&sql[start..end]);
        if class.is_empty() {
            out.push_str(&text);
        } else {
            out.push_str(&format!("<span class=\"{class}\">{text}</span>"));
        }
        cursor = end;
    }
    out.push_str(&esc_visible(sql.get(cursor..)?));
    Some(out)
}

fn line_starts(sql: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// Byte offset of a 1-based (line, column-in-characters) location.
fn offset(sql: &str, lines: &[usize], at: Location) -> Option<usize> {
    let line_start = *lines.get(usize::try_from(at.line).ok()?.checked_sub(1)?)?;
    let col = usize::try_from(at.column).ok()?.checked_sub(1)?;
    let line = &sql[line_start..];
    match line.char_indices().nth(col) {
        Some((i, _)) => Some(line_start + i),
        None if line.chars().count() == col => Some(sql.len()),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::sql;

    #[test]
    fn keywords_literals_and_escaping() {
        let html = sql("SELECT '<script>' FROM t -- </pre>\nWHERE a = 1");
        assert!(html.contains("<span class=\"k\">SELECT</span>"));
        assert!(
            html.contains("<span class=\"s\">&#39;&lt;script&gt;&#39;</span>"),
            "{html}"
        );
        assert!(html.contains("<span class=\"c\">-- &lt;/pre&gt;"), "{html}");
        assert!(html.contains("<span class=\"n\">1</span>"));
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn the_exact_text_survives() {
        let text = "delete  from \"Ünïcode\"\twhere x = 'it''s' ;\n\n";
        let html = sql(text);
        let stripped = regex_free_strip(&html);
        assert_eq!(stripped, text.replace('"', "&quot;").replace('\'', "&#39;"));
    }

    #[test]
    fn unreadable_text_is_shown_plain_and_escaped() {
        assert_eq!(sql("SELECT '<b>"), "SELECT &#39;&lt;b&gt;");
    }

    #[test]
    fn hidden_characters_are_shown() {
        let html = sql("DELETE FROM t WHERE id = 1 /*\u{202e} */");
        assert!(html.contains("U+202E"));
        assert!(!html.contains('\u{202e}'));
    }

    fn regex_free_strip(html: &str) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' if in_tag => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out
    }
}
