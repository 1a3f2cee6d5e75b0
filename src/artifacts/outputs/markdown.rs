//! `summary.md`: a run's verdict as a pull-request comment.
//!
//! A heading with the test name and verdict, a table of checkers, the seed
//! and the exact command that reproduces the run, the faults injected, the
//! op count, and a link to the HTML report. Every value that came from the
//! store, the history or the command line goes through [`escape`], so a
//! stored `|` cannot break the table and a stored `<script>` or `<img>`
//! is shown as text in a GitHub comment instead of becoming HTML.

use super::{truncate_chars, RunInfo};
use crate::artifacts::results::Results;
use anyhow::{Context, Result};
use checkers::Validity;
use std::fmt::Write as _;
use std::path::Path;

/// Characters of a checker summary shown in the table.
const SUMMARY_CHARS: usize = 500;

/// Makes `s` plain text inside a Markdown table cell or line: HTML's
/// `&`, `<`, `>` become entities; `|`, backticks, `\`, `[`, `]` and `*`
/// are backslash-escaped (no cell split, code span, link or emphasis);
/// line breaks become `<br>` (a newline would end the table row, or start
/// a heading or list); other control characters become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' | '`' | '\\' | '[' | ']' | '*' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("<br>");
            }
            '\n' => out.push_str("<br>"),
            '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A fenced code block holding `text` verbatim: the fence is longer than
/// any run of backticks in it, so the text cannot close it early.
fn code_block(lang: &str, text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{lang}\n{text}\n{fence}\n")
}

fn badge(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "✅",
        Validity::Invalid => "❌",
        Validity::Unknown => "⚠️",
    }
}

fn duration(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        let s = s.round() as u64;
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// A relative link as a Markdown link destination: characters that would
/// end it or make it HTML are percent-encoded.
fn link_target(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' ' | '(' | ')' | '<' | '>' | '"' | '\\' | '`' => format!("%{:02X}", c as u32),
            c if c.is_control() => String::new(),
            c => c.to_string(),
        })
        .collect()
}

/// The Markdown summary of one run (or one checked history).
pub fn render_one(info: &RunInfo, results: &Results) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "### {} faultline {}: {}{}\n",
        badge(results.valid),
        escape(&info.test),
        results.valid.word(),
        if results.interrupted {
            " (interrupted)"
        } else {
            ""
        }
    );
    if let Some(e) = &results.error {
        let _ = writeln!(md, "> **Error:** {}\n", escape(e));
    } else if results.interrupted {
        let _ = writeln!(
            md,
            "> **Interrupted:** the verdict covers only what was recorded.\n"
        );
    }
    if results.checkers.is_empty() {
        let _ = writeln!(md, "No checker ran.\n");
    } else {
        md.push_str("| checker | verdict | summary |\n| --- | --- | --- |\n");
        for c in &results.checkers {
            let _ = writeln!(
                md,
                "| {} | {} {} | {} |",
                escape(&c.checker),
                badge(c.valid),
                c.valid.word(),
                escape(&truncate_chars(&c.summary, SUMMARY_CHARS))
            );
        }
        md.push('\n');
    }
    if !info.highlights.is_empty() {
        md.push_str("**What went wrong:**\n\n");
        for (checker, text) in &info.highlights {
            let _ = writeln!(
                md,
                "- **{}**: {}",
                escape(checker),
                escape(&truncate_chars(text, SUMMARY_CHARS))
            );
        }
        md.push('\n');
    }
    let mut facts = Vec::new();
    if let Some(seed) = info.seed {
        facts.push(format!("**Seed:** `{seed}`"));
    }
    facts.push(format!("**Workload:** {}", escape(&info.workload)));
    if info.seed.is_some() || !info.nemesis.is_empty() {
        facts.push(format!(
            "**Nemesis:** {}",
            if info.nemesis.is_empty() {
                "none".to_string()
            } else {
                escape(&info.nemesis.join(", "))
            }
        ));
    }
    facts.push(format!("**Ops:** {}", results.op_count));
    if let Some(d) = results.duration_s {
        facts.push(format!("**Duration:** {}", duration(d)));
    }
    let _ = writeln!(md, "{}\n", facts.join(" · "));
    if let Some(cmd) = &info.command {
        md.push_str("Reproduce:\n\n");
        md.push_str(&code_block("sh", cmd));
        md.push('\n');
    }
    if let Some(report) = &info.report {
        let _ = writeln!(
            md,
            "Report: [{}]({})\n",
            escape(report),
            link_target(report)
        );
    }
    md
}

/// The Markdown summary of several runs, one section each.
pub fn render(runs: &[(&RunInfo, &Results)]) -> String {
    runs.iter()
        .map(|(i, r)| render_one(i, r))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Writes the Markdown summary of `runs` to `path`.
pub fn write(path: &Path, runs: &[(&RunInfo, &Results)]) -> Result<()> {
    std::fs::write(path, render(runs)).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::outputs::fixtures::{check, info, invalid, valid};
    use serde_json::json;

    #[test]
    fn valid_run_snapshot() {
        insta::assert_snapshot!(render(&[(&info(), &valid())]));
    }

    #[test]
    fn invalid_run_snapshot() {
        insta::assert_snapshot!(render(&[(&info(), &invalid())]));
    }

    #[test]
    fn interrupted_check_without_seed_or_report_snapshot() {
        let mut r = invalid();
        r.interrupted = true;
        r.error = Some("starting n3: address in use\n<b>bold</b>".into());
        let i = RunInfo {
            highlights: Vec::new(),
            test: "set-lost".into(),
            workload: "set".into(),
            command: Some("faultline check --workload set history.jsonl".into()),
            seed: None,
            nemesis: vec![],
            report: None,
        };
        insta::assert_snapshot!(render(&[(&i, &r)]));
    }

    /// The rows of the table: lines starting with `|`, split on unescaped `|`.
    fn table_rows(md: &str) -> Vec<Vec<String>> {
        md.lines()
            .filter(|l| l.starts_with('|'))
            .map(|l| {
                let mut cells = vec![String::new()];
                let mut chars = l.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            cells.last_mut().unwrap().push(c);
                            if let Some(n) = chars.next() {
                                cells.last_mut().unwrap().push(n);
                            }
                        }
                        '|' => cells.push(String::new()),
                        c => cells.last_mut().unwrap().push(c),
                    }
                }
                cells
            })
            .collect()
    }

    #[test]
    fn stored_values_cannot_break_the_table_or_inject_html() {
        let nasty = "a | b <script>alert(1)</script> `code` [x](javascript:y) *em* \\ end\nsecond | line\r\nthird\u{7}";
        let r = Results::from_checks(
            vec![
                check("set|<img src=x>", Validity::Invalid, nasty, json!({})),
                check("perf", Validity::Valid, "ok", json!({})),
            ],
            3,
        );
        let mut i = info();
        i.test = "t`<b>".into();
        i.nemesis = vec!["<i>x</i>".into()];
        i.command = Some("faultline test --name 'a```b'\n```\n<script>".into());
        let md = render(&[(&i, &r)]);
        // No raw HTML from the values outside the code block (which shows
        // the command verbatim), only our own <br>.
        let outside_code: String = md.split("````").step_by(2).collect();
        for tag in ["<script", "<img", "<i>", "<b>", "</script>"] {
            assert!(!outside_code.contains(tag), "{tag} leaked: {md}");
        }
        // Every row has exactly the three columns (plus the empty edges).
        let rows = table_rows(&md);
        assert_eq!(rows.len(), 4, "{md}");
        for row in &rows {
            assert_eq!(row.len(), 5, "{row:?}\n{md}");
        }
        let cell = &rows[2][3];
        assert_eq!(
            cell.trim(),
            "a \\| b &lt;script&gt;alert(1)&lt;/script&gt; \\`code\\` \\[x\\](javascript:y) \\*em\\* \\\\ end<br>second \\| line<br>third\u{FFFD}"
        );
        assert_eq!(rows[2][1].trim(), "set\\|&lt;img src=x&gt;");
        // The command is verbatim in a fence its backticks cannot close.
        assert!(
            md.contains("````sh\nfaultline test --name 'a```b'\n```\n<script>\n````\n"),
            "{md}"
        );
        assert!(md.contains("**Nemesis:** &lt;i&gt;x&lt;/i&gt;"), "{md}");
        assert!(
            md.starts_with("### ❌ faultline t\\`&lt;b&gt;: INVALID\n"),
            "{md}"
        );
        assert_eq!(link_target("a b(c)<d>.html"), "a%20b%28c%29%3Cd%3E.html");
    }

    /// Renders as GitHub does (comrak follows cmark-gfm, GitHub's
    /// renderer), passing raw HTML through so that any that leaks shows.
    fn to_html(md: &str) -> String {
        let mut o = comrak::Options::default();
        o.extension.table = true;
        o.extension.autolink = true;
        o.extension.strikethrough = true;
        o.render.r#unsafe = true;
        comrak::markdown_to_html(md, &o)
    }

    #[test]
    fn rendered_by_a_gfm_renderer_stored_values_stay_text_in_their_cells() {
        let nasty = "a | b <script>alert(1)</script> `code` [x](javascript:y) *em* \\ end\nsecond | line\r\nthird <img src=x onerror=alert(1)>";
        let r = Results::from_checks(
            vec![
                check("set|<b>x</b>", Validity::Invalid, nasty, json!({})),
                check("perf", Validity::Valid, "ok", json!({})),
            ],
            3,
        );
        let mut i = info();
        i.nemesis = vec!["<i>x</i>".into()];
        i.command = Some("faultline test\n```\n<script>alert(2)</script>".into());
        let html = to_html(&render(&[(&i, &r)]));
        for tag in ["<script", "<img", "<b>", "<i>"] {
            assert!(!html.contains(tag), "{tag} became HTML:\n{html}");
        }
        // The only link is ours, to the report.
        assert_eq!(html.matches("<a ").count(), 1, "{html}");
        assert!(
            html.contains("<a href=\"report.html\">report.html</a>"),
            "{html}"
        );
        assert_eq!(html.matches("<table>").count(), 1, "{html}");
        let rows: Vec<&str> = html.split("<tr>").skip(1).collect();
        assert_eq!(rows.len(), 3, "{html}");
        for row in &rows {
            let cells = row.matches("<th").count() + row.matches("<td").count();
            assert_eq!(cells, 3, "{row}");
        }
        assert!(
            rows[1].contains(
                "<td>a | b &lt;script&gt;alert(1)&lt;/script&gt; `code` [x](javascript:y) *em* \\ end<br>second | line<br>third &lt;img src=x onerror=alert(1)&gt;</td>"
            ),
            "{}",
            rows[1]
        );
        assert!(
            rows[1].starts_with("\n<td>set|&lt;b&gt;x&lt;/b&gt;</td>"),
            "{}",
            rows[1]
        );
        // The command stays one code block, shown verbatim.
        assert!(
            html.contains("<pre><code class=\"language-sh\">faultline test\n```\n&lt;script&gt;alert(2)&lt;/script&gt;\n</code></pre>"),
            "{html}"
        );
        assert!(
            html.contains("<strong>Nemesis:</strong> &lt;i&gt;x&lt;/i&gt;"),
            "{html}"
        );
    }

    #[test]
    fn anomaly_sentences_are_listed_and_escaped() {
        let mut i = info();
        i.highlights = vec![(
            "set".into(),
            "lost element: element <script>x</script> | 7 was lost\nsecond line".into(),
        )];
        let md = render(&[(&i, &invalid())]);
        assert!(md.contains("**What went wrong:**\n\n- **set**: lost element: element &lt;script&gt;x&lt;/script&gt; \\| 7 was lost"), "{md}");
        assert!(!md.contains("<script>"));
        assert_eq!(
            md.matches("\n- **").count(),
            1,
            "one bullet, the newline escaped: {md}"
        );
    }

    #[test]
    fn escape_handles_each_significant_character() {
        assert_eq!(escape("plain text 1.5 s"), "plain text 1.5 s");
        assert_eq!(escape("<>&"), "&lt;&gt;&amp;");
        assert_eq!(escape("a|b"), "a\\|b");
        assert_eq!(escape("`x`"), "\\`x\\`");
        assert_eq!(escape("a\nb\r\nc\rd"), "a<br>b<br>c<br>d");
        assert_eq!(escape("a\tb\u{0}"), "a b\u{FFFD}");
    }
}
