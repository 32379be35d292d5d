//! Reports of a statement matching run: JSON for machines, CSV of the breaks, and an HTML page (headline counts, a
//! chart of breaks by class, matches by rule, the breaks with their explanations). Each names the files it ran on
//! with their SHA-256 and, when the ledger side came from the ledger, the journal sequence.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::csv;
use crate::matching::{BreakClass, Outcome};
use crate::report::esc;

/// Most breaks listed in the HTML page (the CSV and JSON carry all of them).
pub const MAX_HTML_BREAKS: usize = 2_000;

/// What a matching run was run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchInputs {
    /// The ledger side: a file name, or `ledger account <id>`.
    pub ledger_source: String,
    /// SHA-256 of the ledger side's file, if it came from a file.
    pub ledger_sha256: Option<String>,
    /// The journal sequence, if the ledger side came from the ledger.
    pub journal_seq: Option<u64>,
    /// The statement file's name.
    pub statement_file: String,
    /// Its SHA-256.
    pub statement_sha256: String,
    /// The rules file's name.
    pub rules_file: String,
    /// Its SHA-256.
    pub rules_sha256: String,
    /// Items on each side.
    pub ledger_items: usize,
    /// Items on the statement.
    pub statement_items: usize,
}

fn matches_by_rule(o: &Outcome) -> BTreeMap<&str, usize> {
    let mut by_rule = BTreeMap::new();
    for m in &o.matches {
        *by_rule.entry(&*m.rule).or_default() += 1;
    }
    by_rule
}

/// The JSON report (every match and break).
pub fn json(o: &Outcome, inputs: &MatchInputs, generated_at: &str) -> Value {
    json!({
        "kind": "statement_matching",
        "generated_at": generated_at,
        "run_on": {
            "ledger": {"source": inputs.ledger_source, "sha256": inputs.ledger_sha256, "journal_seq": inputs.journal_seq, "items": inputs.ledger_items},
            "statement": {"file": inputs.statement_file, "sha256": inputs.statement_sha256, "items": inputs.statement_items},
            "rules": {"file": inputs.rules_file, "sha256": inputs.rules_sha256},
        },
        "summary": {
            "matches": o.matches.len(),
            "matches_by_rule": matches_by_rule(o),
            "breaks": o.breaks.len(),
            "breaks_by_class": o.counts().into_iter().map(|(c, n)| (c.as_str(), n)).collect::<BTreeMap<_, _>>(),
        },
        "matches": o.matches.iter().map(|m| json!({
            "rule": &*m.rule, "ledger": m.ledger, "statement": m.statement, "difference": m.difference.to_string(),
        })).collect::<Vec<_>>(),
        "breaks": o.breaks.iter().map(|b| json!({
            "side": b.side.as_str(), "ids": b.ids, "class": b.class.as_str(),
            "explanation": b.explanation, "counterpart": b.counterpart,
        })).collect::<Vec<_>>(),
    })
}

/// The breaks as CSV: `side,ids,class,counterpart,explanation` (ids joined by `;`).
pub fn breaks_csv(o: &Outcome) -> String {
    let mut out = String::from("side,ids,class,counterpart,explanation\n");
    for b in &o.breaks {
        let cells = [
            b.side.as_str().to_string(),
            csv::quote(&b.ids.join(";")),
            b.class.as_str().to_string(),
            csv::quote(&b.counterpart.join(";")),
            csv::quote(&b.explanation),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// The HTML report: one self-contained page.
pub fn html(o: &Outcome, inputs: &MatchInputs, generated_at: &str) -> String {
    let mut h = String::new();
    let status = if o.breaks.is_empty() {
        "<span class=ok>every item matched</span>".to_string()
    } else {
        format!(
            "<span class=bad>{} unmatched item{}</span>",
            o.breaks.len(),
            if o.breaks.len() == 1 { "" } else { "s" }
        )
    };
    let ledger_digest =
        inputs.ledger_sha256.as_ref().map_or(String::new(), |d| format!(" (SHA-256 <code>{}</code>)", esc(d)));
    let seq = inputs.journal_seq.map_or(String::new(), |s| format!(", journal sequence <b>{s}</b>"));
    let _ = write!(
        h,
        "<!doctype html><html lang=en><meta charset=utf-8><title>Aurum statement reconciliation</title>\
<style>body{{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}}h1{{font-size:1.5em}}\
h2{{font-size:1.15em;margin-top:1.8em}}table{{border-collapse:collapse;width:100%}}td,th{{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left}}\
td.n,th.n{{text-align:right;font-variant-numeric:tabular-nums}}.ok{{color:#1a7f37;font-weight:600}}.bad{{color:#b42318;font-weight:600}}.muted{{color:#666}}</style>\
<h1>Statement reconciliation</h1><p>{status}</p><p class=muted>Ledger: {} ({} items){ledger_digest}{seq}. \
Statement: <code>{}</code> ({} items, SHA-256 <code>{}</code>). Rules: <code>{}</code> (SHA-256 <code>{}</code>). Generated {}.</p>",
        esc(&inputs.ledger_source),
        inputs.ledger_items,
        esc(&inputs.statement_file),
        inputs.statement_items,
        esc(&inputs.statement_sha256),
        esc(&inputs.rules_file),
        esc(&inputs.rules_sha256),
        esc(generated_at),
    );
    h.push_str("<h2>Matches by rule</h2><table><tr><th>rule<th class=n>matches</tr>");
    for (rule, n) in matches_by_rule(o) {
        let _ = write!(h, "<tr><td>{}<td class=n>{n}</tr>", esc(rule));
    }
    let _ = write!(h, "<tr><td><b>total</b><td class=n><b>{}</b></tr></table>", o.matches.len());

    // Breaks by class, as a bar chart.
    let counts = o.counts();
    let max = counts.values().copied().max().unwrap_or(0).max(1);
    let row_h = 26.0_f64;
    let _ = write!(
        h,
        "<h2>Breaks by class</h2><svg role=img aria-label=\"breaks by class\" width=\"100%\" viewBox=\"0 0 1000 {}\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"13\">",
        row_h * counts.len() as f64 + 6.0
    );
    for (i, (class, n)) in counts.iter().enumerate() {
        let y = i as f64 * row_h + 3.0;
        let w = 600.0 * *n as f64 / max as f64;
        let _ = write!(
            h,
            "<text x=\"0\" y=\"{}\">{}</text><rect x=\"200\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{}\">{n}</text>",
            y + 17.0,
            class.as_str(),
            row_h - 8.0,
            if matches!(class, BreakClass::UnauthorisedMint | BreakClass::AmountMismatch) {
                "#b42318"
            } else {
                "#c9a227"
            },
            206.0 + w,
            y + 17.0
        );
    }
    h.push_str("</svg>");

    let _ = write!(
        h,
        "<h2>Breaks ({})</h2><table><tr><th>side<th>item<th>class<th>counterpart<th>explanation</tr>",
        o.breaks.len()
    );
    for b in o.breaks.iter().take(MAX_HTML_BREAKS) {
        let _ = write!(
            h,
            "<tr><td>{}<td>{}<td><code>{}</code><td>{}<td>{}</tr>",
            b.side.as_str(),
            esc(&b.ids.join(", ")),
            b.class.as_str(),
            esc(&b.counterpart.join(", ")),
            esc(&b.explanation)
        );
    }
    if o.breaks.len() > MAX_HTML_BREAKS {
        let _ =
            write!(h, "<tr><td colspan=5 class=muted>… {} more in breaks.csv</tr>", o.breaks.len() - MAX_HTML_BREAKS);
    }
    if o.breaks.is_empty() {
        h.push_str("<tr><td colspan=5 class=muted>none</tr>");
    }
    h.push_str("</table></html>\n");
    h
}
