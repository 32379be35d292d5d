-- Aurum read model, normalised: the journal's accepted state. Ids are the ledger's u128s as
-- numeric(39,0); amounts are exact numerics in asset units (base units / 10^scale); ts_ns is the
-- ledger's event timestamp (ns since the epoch, strictly increasing) and the authority, ts a
-- microsecond copy for humans and date functions.

-- Where each projection stands: the next journal seq to apply and the hash of the last one
-- applied, written in the same transaction as the rows (exactly once across restarts).
CREATE TABLE aurum_projection (
    name       text PRIMARY KEY,
    next_seq   bigint NOT NULL CHECK (next_seq >= 1),
    last_hash  bytea,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE assets (
    asset_id bigint PRIMARY KEY,
    code     text NOT NULL UNIQUE,
    scale    smallint NOT NULL CHECK (scale BETWEEN 0 AND 18),
    seq      bigint NOT NULL,
    ts_ns    bigint NOT NULL
);

CREATE TABLE accounts (
    account_id numeric(39,0) PRIMARY KEY,
    asset_id   bigint NOT NULL REFERENCES assets,
    kind       text NOT NULL CHECK (kind IN ('asset','liability','equity','income','expense')),
    history    boolean NOT NULL,
    metadata   jsonb,
    seq        bigint NOT NULL,
    ts_ns      bigint NOT NULL,
    closed_seq bigint
);

-- Accepted transfers, posts and voids (refusals are in fact_transfers).
CREATE TABLE transfers (
    transfer_id    numeric(39,0) PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('posted','pending','post_pending','void_pending')),
    debit_account  numeric(39,0) NOT NULL REFERENCES accounts,
    credit_account numeric(39,0) NOT NULL REFERENCES accounts,
    asset_id       bigint NOT NULL REFERENCES assets,
    amount         numeric NOT NULL CHECK (amount >= 0),
    pending_id     numeric(39,0) REFERENCES transfers,
    metadata       jsonb,
    seq            bigint NOT NULL,
    ts_ns          bigint NOT NULL UNIQUE,
    ts             timestamptz NOT NULL
);
CREATE INDEX transfers_debit_ts ON transfers (debit_account, ts_ns);
CREATE INDEX transfers_credit_ts ON transfers (credit_account, ts_ns);

-- Pending transfers whose timeout passed (decided from journal timestamps, recorded in blocks).
CREATE TABLE expirations (
    transfer_id numeric(39,0) PRIMARY KEY REFERENCES transfers,
    seq         bigint NOT NULL,
    ts_ns       bigint NOT NULL
);

CREATE TABLE entries (
    entry_id numeric(39,0) PRIMARY KEY,
    metadata jsonb,
    seq      bigint NOT NULL,
    ts_ns    bigint NOT NULL UNIQUE,
    ts       timestamptz NOT NULL
);

-- Every leg of posted money: two per posted transfer or post, one per entry posting.
CREATE TABLE postings (
    movement_id numeric(39,0) NOT NULL,
    leg         smallint NOT NULL,
    account_id  numeric(39,0) NOT NULL REFERENCES accounts,
    side        text NOT NULL CHECK (side IN ('debit','credit')),
    amount      numeric NOT NULL CHECK (amount >= 0),
    seq         bigint NOT NULL,
    ts_ns       bigint NOT NULL,
    PRIMARY KEY (movement_id, leg)
);
CREATE INDEX postings_account_ts ON postings (account_id, ts_ns);

-- Current balances of every account, as of the projection's position; seq is the last block
-- that changed them.
CREATE TABLE balances (
    account_id      numeric(39,0) PRIMARY KEY REFERENCES accounts,
    debits_pending  numeric NOT NULL,
    debits_posted   numeric NOT NULL,
    credits_pending numeric NOT NULL,
    credits_posted  numeric NOT NULL,
    seq             bigint NOT NULL
);

-- Balances after every change, for accounts created with history: what balance-as-of and
-- statements are answered from.
CREATE TABLE balance_history (
    account_id      numeric(39,0) NOT NULL REFERENCES accounts,
    ts_ns           bigint NOT NULL,
    ordinal         smallint NOT NULL,
    seq             bigint NOT NULL,
    movement_id     numeric(39,0) NOT NULL,
    debits_pending  numeric NOT NULL,
    debits_posted   numeric NOT NULL,
    credits_pending numeric NOT NULL,
    credits_posted  numeric NOT NULL,
    PRIMARY KEY (account_id, ts_ns, ordinal)
);
CREATE INDEX balance_history_account_seq ON balance_history (account_id, seq);
