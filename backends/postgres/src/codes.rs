//! The read model's names for the ledger's enums, both ways: what the projector writes into
//! `text` columns (checked by the schema's CHECK constraints) and what the readers parse back.
//! A name a reader does not know is an error, never a default.

use aurum_ledger::{AccountKind, Amount, Limit, TransferKind};

/// An account's limit as (`limit_kind`, overdraft in base units).
pub fn limit_columns(limit: Limit) -> (&'static str, Amount) {
    match limit {
        Limit::None => ("none", 0),
        Limit::DebitsMustNotExceedCredits { overdraft } => ("debits_must_not_exceed_credits", overdraft),
        Limit::CreditsMustNotExceedDebits { overdraft } => ("credits_must_not_exceed_debits", overdraft),
    }
}

/// The limit stored as (`limit_kind`, overdraft).
pub fn limit_of(kind: &str, overdraft: Amount) -> Option<Limit> {
    Some(match kind {
        "none" => Limit::None,
        "debits_must_not_exceed_credits" => Limit::DebitsMustNotExceedCredits { overdraft },
        "credits_must_not_exceed_debits" => Limit::CreditsMustNotExceedDebits { overdraft },
        _ => return None,
    })
}

/// An account kind from [`AccountKind::as_str`]'s name.
pub fn account_kind_of(name: &str) -> Option<AccountKind> {
    [AccountKind::Asset, AccountKind::Liability, AccountKind::Equity, AccountKind::Income, AccountKind::Expense]
        .into_iter()
        .find(|k| k.as_str() == name)
}

/// A transfer kind from `aurum_ledger_node::facts::transfer_kind_name`'s name.
pub fn transfer_kind_of(name: &str) -> Option<TransferKind> {
    [TransferKind::Posted, TransferKind::Pending, TransferKind::PostPending, TransferKind::VoidPending]
        .into_iter()
        .find(|k| aurum_ledger_node::facts::transfer_kind_name(*k) == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_value() {
        for limit in [
            Limit::None,
            Limit::DebitsMustNotExceedCredits { overdraft: 7 },
            Limit::CreditsMustNotExceedDebits { overdraft: 0 },
        ] {
            let (kind, overdraft) = limit_columns(limit);
            assert_eq!(limit_of(kind, overdraft), Some(limit));
        }
        for k in
            [AccountKind::Asset, AccountKind::Liability, AccountKind::Equity, AccountKind::Income, AccountKind::Expense]
        {
            assert_eq!(account_kind_of(k.as_str()), Some(k));
        }
        for k in [TransferKind::Posted, TransferKind::Pending, TransferKind::PostPending, TransferKind::VoidPending] {
            assert_eq!(transfer_kind_of(aurum_ledger_node::facts::transfer_kind_name(k)), Some(k));
        }
        assert_eq!((limit_of("nope", 0), account_kind_of("nope"), transfer_kind_of("nope")), (None, None, None));
    }
}
