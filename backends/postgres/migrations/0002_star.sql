-- Aurum analytics star schema: one fact per transfer-like command (refusals included, so success
-- rates can be computed), with dimensions keyed by the ledger's natural ids (no surrogate
-- lookups in the projection's hot path).

CREATE TABLE dim_date (
    date_key integer PRIMARY KEY,          -- yyyymmdd
    day      date NOT NULL UNIQUE,
    year     smallint NOT NULL,
    quarter  smallint NOT NULL,
    month    smallint NOT NULL,
    iso_week smallint NOT NULL,
    dow      smallint NOT NULL             -- ISO: Monday 1 .. Sunday 7
);
INSERT INTO dim_date
SELECT to_char(d, 'YYYYMMDD')::integer, d, extract(year FROM d), extract(quarter FROM d),
       extract(month FROM d), extract(week FROM d), extract(isodow FROM d)
FROM generate_series(date '2000-01-01', date '2100-12-31', interval '1 day') AS g(d);

CREATE TABLE dim_asset (
    asset_id bigint PRIMARY KEY,
    code     text NOT NULL,
    scale    smallint NOT NULL
);

-- Type 1: a closed account is updated in place.
CREATE TABLE dim_account (
    account_id numeric(39,0) PRIMARY KEY,
    asset_id   bigint NOT NULL REFERENCES dim_asset,
    kind       text NOT NULL,
    name       text,
    closed     boolean NOT NULL DEFAULT false
);

-- Refused commands may name accounts or assets that do not exist: those keys are not enforced.
-- Keyed by the event's timestamp (unique in the ledger): a refused reuse of an existing id with
-- different fields is a fact of its own, beside the id's first outcome.
CREATE TABLE fact_transfers (
    ts_ns          bigint PRIMARY KEY,
    transfer_id    numeric(39,0) NOT NULL,
    date_key       integer NOT NULL REFERENCES dim_date,
    asset_id       bigint,
    debit_account  numeric(39,0),
    credit_account numeric(39,0),
    kind           text NOT NULL,
    result         text NOT NULL,
    ok             boolean NOT NULL,
    amount         numeric,
    seq            bigint NOT NULL,
    ts             timestamptz NOT NULL
);
CREATE INDEX fact_transfers_date_asset ON fact_transfers (date_key, asset_id);
CREATE INDEX fact_transfers_id ON fact_transfers (transfer_id);
