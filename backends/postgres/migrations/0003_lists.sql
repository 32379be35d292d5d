-- The API's list endpoints answer from the read model with the ledger's own records, which need
-- what 0001 did not project: an account's limit and a pending transfer's expiry. The projection is
-- derived data: it is emptied here, in the migrations' transaction, so the next sync rebuilds every
-- table from the journal with the new columns filled (never a row without them). dim_date is
-- static and kept.
TRUNCATE aurum_projection, balance_history, balances, postings, expirations, entries, transfers,
         accounts, assets, fact_transfers, dim_account, dim_asset;

ALTER TABLE accounts
    ADD COLUMN limit_kind text NOT NULL
        CHECK (limit_kind IN ('none','debits_must_not_exceed_credits','credits_must_not_exceed_debits')),
    ADD COLUMN overdraft numeric NOT NULL CHECK (overdraft >= 0);

-- For pending transfers with a timeout: when the hold expires (ns since the epoch).
ALTER TABLE transfers ADD COLUMN expires_at_ns bigint;

-- The transfers list filters by asset and kind in journal order.
CREATE INDEX transfers_asset_ts ON transfers (asset_id, ts_ns);
CREATE INDEX transfers_pending ON transfers (pending_id) WHERE pending_id IS NOT NULL;
-- The accounts list filters by asset in id order.
CREATE INDEX accounts_asset ON accounts (asset_id, account_id);
