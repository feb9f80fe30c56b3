//! Glob: a name pattern where `*` stands for any run of characters and `?` for one.

/// Whether letter case matters when a [`Glob`] is compared with a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    /// `Orders` and `orders` differ.
    Exact,
    /// `Orders` and `orders` are the same name.
    Ignored,
}

/// A validated glob. Every other character stands for itself; there is no escape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    pattern: Vec<char>,
    lowercase: Vec<char>,
}

impl Glob {
    /// Reads a glob; only the empty pattern is refused.
    pub(crate) fn parse(pattern: &str) -> Result<Glob, String> {
        if pattern.is_empty() {
            return Err("empty pattern".into());
        }
        Ok(Glob {
            pattern: pattern.chars().collect(),
            lowercase: pattern.to_lowercase().chars().collect(),
        })
    }

    /// Whether the whole of `name` matches the pattern.
    pub(crate) fn matches(&self, name: &str, case: Case) -> bool {
        match case {
            Case::Exact => matches(&self.pattern, &name.chars().collect::<Vec<_>>()),
            Case::Ignored => matches(
                &self.lowercase,
                &name.to_lowercase().chars().collect::<Vec<_>>(),
            ),
        }
    }
}

/// Iterative glob matching: on a mismatch, the last `*` seen takes one more character.
fn matches(pattern: &[char], name: &[char]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(pattern: &str, name: &str) -> bool {
        Glob::parse(pattern).unwrap().matches(name, Case::Exact)
    }

    #[test]
    fn literal_matches_only_itself() {
        assert!(exact("orders", "orders"));
        assert!(!exact("orders", "orders2"));
        assert!(!exact("orders", "order"));
        assert!(!exact("orders", "Orders"));
    }

    #[test]
    fn star_matches_any_run_including_none() {
        assert!(exact("*", ""));
        assert!(exact("*", "anything"));
        assert!(exact("tmp_*", "tmp_"));
        assert!(exact("tmp_*", "tmp_2024"));
        assert!(!exact("tmp_*", "tm_2024"));
        assert!(exact("*_log", "audit_log"));
        assert!(exact("a*b*c", "aXbYc"));
        assert!(exact("a*b*c", "abbbc"));
        assert!(!exact("a*b*c", "aXbY"));
        assert!(exact("**", "x"));
    }

    #[test]
    fn question_mark_matches_exactly_one() {
        assert!(exact("t?", "t1"));
        assert!(!exact("t?", "t"));
        assert!(!exact("t?", "t12"));
        assert!(exact("é?", "éü"));
    }

    #[test]
    fn ignored_case() {
        let glob = Glob::parse("Secret*").unwrap();
        assert!(glob.matches("SECRETS", Case::Ignored));
        assert!(glob.matches("secrets", Case::Ignored));
        assert!(!glob.matches("secrets", Case::Exact));
    }

    #[test]
    fn empty_pattern_is_refused() {
        assert!(Glob::parse("").is_err());
    }
}
