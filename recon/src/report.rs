//! Reports of a three-way reconciliation: JSON for machines, CSV of the findings, and an HTML page an analyst reads
//! (headline figures, a chart of the three sides, the breaks with their explanations, holders and bars).
//!
//! Every report names what it was run on — chain id and block, journal sequence, bar-list file and its SHA-256 —
//! so it can be reproduced. Reports are deterministic: the same reconciliation renders the same bytes (the caller
//! passes the generation time in). Amounts are printed exactly, in ounces.

use std::fmt::Write as _;

use aurum_ledger::decimal::format_amount;
use serde_json::{Value, json};

use crate::csv;
use crate::threeway::{Finding, ThreeWay};

/// Decimal places of token amounts (base units per ounce: 10^18).
pub const TOKEN_SCALE: u8 = 18;

/// Token base units as ounces, exact, trailing zeros beyond 3 decimals dropped.
pub fn oz(units: i128) -> String {
    let s = format_amount(units.unsigned_abs(), TOKEN_SCALE);
    let (whole, frac) = s.split_once('.').expect("scale 18 has a fraction");
    let trimmed = frac.trim_end_matches('0');
    let frac = if trimmed.len() < 3 { &frac[..3] } else { trimmed };
    format!("{}{whole}.{frac}", if units < 0 { "-" } else { "" })
}

/// The JSON report.
pub fn json(r: &ThreeWay, generated_at: &str) -> Value {
    let s = &r.summary;
    json!({
        "kind": "three_way",
        "generated_at": generated_at,
        "run_on": {
            "chain_id": r.chain_id,
            "block": r.block,
            "token": r.token,
            "journal_seq": r.journal_seq,
            "bar_list": {"file": r.bar_list_file, "sha256": r.bar_list_sha256},
        },
        "summary": {
            "bars": s.bars,
            "bars_backing": s.bars_backing,
            "bars_fine_oz": oz(s.bars_fine),
            "reserve_attested_oz": s.reserve_attested.map(oz),
            "token_supply_oz": oz(s.supply),
            "treasury_oz": oz(s.treasury),
            "ledger_vault_oz": oz(s.ledger_vault),
            "ledger_on_chain_oz": oz(s.ledger_on_chain),
            "ledger_custody_oz": oz(s.ledger_custody),
            "ledger_liabilities_oz": oz(s.ledger_liabilities),
            "ledger_inventory_oz": oz(s.ledger_inventory),
            "in_flight_mints_oz": oz(s.in_flight_mints),
            "in_flight_redemptions_oz": oz(s.in_flight_redemptions),
            "breaks": s.breaks,
            "explained": s.explained,
        },
        "findings": r.findings.iter().map(finding_json).collect::<Vec<_>>(),
        "wallets": r.wallets.iter().map(|w| json!({
            "address": w.address, "chain_oz": oz(w.chain as i128), "ledger_oz": oz(w.ledger),
            "frozen": w.frozen, "treasury": w.treasury,
        })).collect::<Vec<_>>(),
        "bars": r.bars.iter().map(|b| json!({
            "bar": b.key, "line": b.line,
            "fine_oz": format_amount(b.fine_milli_oz, 3), "expected_fine_oz": format_amount(b.expected_fine_milli_oz, 3),
            "status": b.status.as_str(), "backing": b.backing,
        })).collect::<Vec<_>>(),
    })
}

fn finding_json(f: &Finding) -> Value {
    json!({
        "class": f.class.as_str(),
        "subject": f.subject,
        "expected_oz": oz(f.expected),
        "found_oz": oz(f.found),
        "difference_oz": oz(f.difference()),
        "explained": f.explained,
        "explanation": f.explanation,
    })
}

/// The findings as CSV (breaks first).
pub fn findings_csv(r: &ThreeWay) -> String {
    let mut out = String::from("class,subject,expected_oz,found_oz,difference_oz,explained,explanation\n");
    for f in &r.findings {
        let cells = [
            f.class.as_str().to_string(),
            csv::quote(&f.subject),
            oz(f.expected),
            oz(f.found),
            oz(f.difference()),
            f.explained.to_string(),
            csv::quote(&f.explanation),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// `s` escaped for HTML text and attribute values.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The HTML report: one self-contained page (inline CSS and SVG, no scripts).
pub fn html(r: &ThreeWay, generated_at: &str) -> String {
    let s = &r.summary;
    let mut h = String::new();
    let status = if s.breaks == 0 {
        "<span class=ok>reconciled: no unexplained breaks</span>".to_string()
    } else {
        format!("<span class=bad>{} unexplained break{}</span>", s.breaks, if s.breaks == 1 { "" } else { "s" })
    };
    let _ = write!(
        h,
        "<!doctype html><html lang=en><meta charset=utf-8><title>Aurum reconciliation — chain {} block {}</title>\
<style>body{{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}}\
h1{{font-size:1.5em}}h2{{font-size:1.15em;margin-top:1.8em}}table{{border-collapse:collapse;width:100%}}\
td,th{{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left}}td.n,th.n{{text-align:right;font-variant-numeric:tabular-nums}}\
.ok{{color:#1a7f37;font-weight:600}}.bad{{color:#b42318;font-weight:600}}.muted{{color:#666}}code{{font-size:.9em}}</style>\
<h1>Gold reconciliation: vault ⟷ chain ⟷ ledger</h1><p>{status}</p>\
<p class=muted>Run on chain <b>{}</b> at final block <b>{}</b> (token <code>{}</code>), ledger journal sequence <b>{}</b>, \
bar list <code>{}</code> (SHA-256 <code>{}</code>). Generated {}.</p>",
        r.chain_id,
        r.block,
        r.chain_id,
        r.block,
        esc(&r.token),
        r.journal_seq,
        esc(&r.bar_list_file),
        esc(&r.bar_list_sha256),
        esc(generated_at),
    );

    // Headline figures.
    h.push_str("<h2>Figures (fine troy ounces)</h2><table>");
    let rows: Vec<(&str, String)> = vec![
        (
            "Bars backing the token (of all bars listed)",
            format!("{} ({} of {} bars)", oz(s.bars_fine), s.bars_backing, s.bars),
        ),
        ("Reserve attested on chain", s.reserve_attested.map_or("none".into(), oz)),
        ("Token supply on chain", oz(s.supply)),
        ("  of which the issuer's own addresses", oz(s.treasury)),
        ("Ledger: vault", oz(s.ledger_vault)),
        ("Ledger: token wallets (on chain)", oz(s.ledger_on_chain)),
        ("Ledger: customers' custody", oz(s.ledger_custody)),
        ("Ledger: everything owed", oz(s.ledger_liabilities)),
        ("Ledger: the issuer's unsold gold", oz(s.ledger_inventory)),
        ("Withdrawals in flight (booked, not yet minted)", oz(s.in_flight_mints)),
        ("Redemptions in flight (burned, not yet settled)", oz(s.in_flight_redemptions)),
    ];
    for (label, value) in rows {
        let _ = write!(h, "<tr><td>{}</td><td class=n>{}</td></tr>", esc(label), esc(&value));
    }
    h.push_str("</table>");
    h.push_str(&chart(r));

    // Findings.
    let _ = write!(h, "<h2>Breaks ({})</h2>", s.breaks);
    findings_table(&mut h, r.breaks());
    let _ = write!(h, "<h2>Explained differences ({})</h2>", s.explained);
    findings_table(&mut h, r.findings.iter().filter(|f| f.explained));

    // Holders and bars.
    h.push_str("<h2>Token holders</h2><table><tr><th>address<th class=n>on chain<th class=n>ledger<th>notes</tr>");
    for w in &r.wallets {
        let notes = [(w.frozen, "frozen"), (w.treasury, "issuer")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            h,
            "<tr><td><code>{}</code><td class=n>{}<td class=n>{}<td>{}</tr>",
            esc(&w.address),
            oz(w.chain as i128),
            oz(w.ledger),
            notes
        );
    }
    h.push_str("</table><h2>Bars</h2><table><tr><th>bar<th class=n>line<th class=n>fine oz<th class=n>gross × assay<th>status<th>backs the token</tr>");
    for b in &r.bars {
        let _ = write!(
            h,
            "<tr><td>{}<td class=n>{}<td class=n>{}<td class=n>{}<td>{}<td>{}</tr>",
            esc(&b.key),
            b.line,
            format_amount(b.fine_milli_oz, 3),
            format_amount(b.expected_fine_milli_oz, 3),
            b.status.as_str(),
            if b.backing { "yes" } else { "no" }
        );
    }
    h.push_str("</table></html>\n");
    h
}

fn findings_table<'a>(h: &mut String, findings: impl Iterator<Item = &'a Finding>) {
    h.push_str("<table><tr><th>class<th>subject<th class=n>expected<th class=n>found<th class=n>difference<th>explanation</tr>");
    let mut any = false;
    for f in findings {
        any = true;
        let _ = write!(
            h,
            "<tr><td><code>{}</code><td>{}<td class=n>{}<td class=n>{}<td class=n>{}<td>{}</tr>",
            f.class.as_str(),
            esc(&f.subject),
            oz(f.expected),
            oz(f.found),
            oz(f.difference()),
            esc(&f.explanation)
        );
    }
    if !any {
        h.push_str("<tr><td colspan=6 class=muted>none</tr>");
    }
    h.push_str("</table>");
}

/// A horizontal bar chart of the three sides (bars, supply + custody, ledger liabilities) and the split of
/// customers' gold between chain and custody. Widths are display only (never booked).
fn chart(r: &ThreeWay) -> String {
    let s = &r.summary;
    let bars: [(&str, i128, &str); 5] = [
        ("bars backing the token", s.bars_fine, "#c9a227"),
        ("ledger: everything owed", s.ledger_liabilities, "#3b6ea5"),
        ("ledger: custody", s.ledger_custody, "#7aa6d6"),
        ("token supply (chain)", s.supply, "#5b8c5a"),
        ("ledger: token wallets", s.ledger_on_chain, "#9cc59a"),
    ];
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let (width, label_w, row_h) = (1000.0_f64, 230.0_f64, 28.0_f64);
    let mut svg = format!(
        "<h2>The three sides</h2><svg role=img aria-label=\"reconciliation chart\" width=\"100%\" viewBox=\"0 0 {width} {}\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"13\">",
        row_h * bars.len() as f64 + 10.0
    );
    for (i, (label, value, colour)) in bars.iter().enumerate() {
        let y = i as f64 * row_h + 5.0;
        let w = (width - label_w - 160.0) * (*value).max(0) as f64 / max as f64;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\">{}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{}\">{} oz</text>",
            y + 17.0,
            esc(label),
            row_h - 8.0,
            label_w + w + 6.0,
            y + 17.0,
            oz(*value)
        );
    }
    svg.push_str("</svg>");
    let customers = s.ledger_custody + s.ledger_on_chain;
    if customers > 0 {
        let share = s.ledger_on_chain as f64 / customers as f64;
        let _ = write!(
            svg,
            "<p>Customers' gold: <b>{:.1}%</b> on chain as tokens, <b>{:.1}%</b> in custody.</p>\
<svg width=\"100%\" viewBox=\"0 0 1000 24\" xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"{:.1}\" height=\"24\" fill=\"#5b8c5a\"/><rect x=\"{:.1}\" width=\"{:.1}\" height=\"24\" fill=\"#7aa6d6\"/></svg>",
            share * 100.0,
            (1.0 - share) * 100.0,
            1000.0 * share,
            1000.0 * share,
            1000.0 * (1.0 - share)
        );
    }
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ounces_print_exactly() {
        assert_eq!(oz(0), "0.000");
        assert_eq!(oz(1_000_000_000_000_000_000), "1.000");
        assert_eq!(oz(1_500_000_000_000_000_000), "1.500");
        assert_eq!(oz(1), "0.000000000000000001");
        assert_eq!(oz(-2_123_400_000_000_000_000), "-2.1234");
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv::quote("plain"), "plain");
        assert_eq!(csv::quote("a,b"), "\"a,b\"");
        assert_eq!(csv::quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(esc("<a href=\"x\">&</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
    }
}
