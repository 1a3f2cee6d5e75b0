//! Commands are argv, quoted for the remote shell.
//!
//! sshd hands the command line to the login shell (`$SHELL -c LINE`), so
//! each argv word is wrapped in POSIX single quotes by [`quote`]: `$()`,
//! backticks, `;`, newlines and quotes in user data stay data, and
//! [`command_line`] joins the quoted words into a line the remote shell
//! splits back into exactly the argv. The login shell must be POSIX-like
//! (sh, dash, bash, zsh, ksh); csh and fish are not supported. The few
//! fixed scripts faultline runs itself go through `sh -c` ([`quote_sh`]),
//! with user data only as positional parameters.

/// Quotes one word for a POSIX shell: unchanged when it holds only
/// characters no shell treats specially, otherwise inside single quotes with
/// each `'` written as `'\''`. Inside single quotes nothing is special —
/// `$`, backticks, `\`, newlines, `;` — so the shell passes the word on
/// byte for byte.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Quotes every word of `argv` and joins them with spaces: a command line
/// the remote shell splits back into exactly `argv`. Fails on an empty argv
/// and on NUL bytes, which no argv word can carry.
pub fn command_line(argv: &[String]) -> Result<String, String> {
    if argv.is_empty() {
        return Err("empty command".into());
    }
    if argv.iter().any(|w| w.contains('\0')) {
        return Err("a command word contains a NUL byte".into());
    }
    Ok(argv.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" "))
}

/// `sh -c SCRIPT`, quoted: for the few fixed scripts faultline runs itself
/// (user data reaches them only as positional parameters, never inside).
pub(super) fn quote_sh(script: &str) -> String {
    format!("sh -c {}", quote(script))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// What `sh -c 'printf "%s\n" WORDS'` makes of a command line: the words
    /// as the shell split them.
    fn shell_split(line: &str) -> Vec<String> {
        let script = format!("for w in {line}; do printf '%s\\0' \"$w\"; done");
        let _ = script;
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("for w in {line}\ndo printf '%s\\0' \"$w\"; done"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
            .split(|b| *b == 0)
            .filter(|_| true)
            .map(|w| String::from_utf8(w.to_vec()).unwrap())
            .collect::<Vec<_>>()
            .split_last()
            .map(|(_, rest)| rest.to_vec())
            .unwrap_or_default()
    }

    #[test]
    fn hostile_words_survive_the_shell_verbatim() {
        let words: Vec<String> = [
            "plain",
            "",
            "with space",
            "it's",
            "'",
            "''",
            "\"double\"",
            "$(touch /tmp/faultline-pwned)",
            "`touch /tmp/faultline-pwned`",
            "$HOME",
            "${IFS}",
            "a;b",
            "a && b || c",
            "line1\nline2",
            "tab\there",
            "back\\slash",
            "glob*?[a]",
            "~root",
            "-n",
            "#comment",
            "a|b>c<d",
            "é ünïcödé",
            "!bang",
        ]
        .map(String::from)
        .to_vec();
        let line = command_line(&words).unwrap();
        assert_eq!(shell_split(&line), words);
        assert!(!Path::new("/tmp/faultline-pwned").exists());
    }

    #[test]
    fn quoting_is_minimal_and_exact() {
        assert_eq!(quote("iptables"), "iptables");
        assert_eq!(quote("-A"), "-A");
        assert_eq!(quote("198.18.0.11/32"), "198.18.0.11/32");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(x)"), "'$(x)'");
        assert!(command_line(&[]).is_err());
        assert!(command_line(&["a\0b".to_string()]).is_err());
    }
}
