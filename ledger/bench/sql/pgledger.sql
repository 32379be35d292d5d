-- The PostgreSQL baseline for the ledger benchmark: a careful double-entry ledger in plain SQL, in the
-- style of pgledger (github.com/pgr0ss/pgledger): accounts with balances and a version, a transfers
-- table, one entry per account movement with the balance before and after, row locks taken in
-- sorted account order (no deadlocks), and the balance check inside the transaction. Amounts are
-- numeric (exact). Every call is durable when it returns (synchronous_commit = on, the default).
DROP SCHEMA IF EXISTS pgledger_bench CASCADE;
CREATE SCHEMA pgledger_bench;
SET search_path = pgledger_bench;

CREATE TABLE accounts (
    id             bigint PRIMARY KEY,
    currency       text NOT NULL,
    balance        numeric(39, 0) NOT NULL DEFAULT 0,
    allow_negative boolean NOT NULL DEFAULT true,
    version        bigint NOT NULL DEFAULT 0
);

CREATE TABLE transfers (
    id           bigint PRIMARY KEY,            -- client-chosen: a retry with the same id fails
    from_account bigint NOT NULL REFERENCES accounts (id),
    to_account   bigint NOT NULL REFERENCES accounts (id),
    amount       numeric(39, 0) NOT NULL CHECK (amount > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (from_account <> to_account)
);

CREATE TABLE entries (
    id                       bigserial PRIMARY KEY,
    account_id               bigint NOT NULL REFERENCES accounts (id),
    transfer_id              bigint NOT NULL REFERENCES transfers (id),
    amount                   numeric(39, 0) NOT NULL,
    account_previous_balance numeric(39, 0) NOT NULL,
    account_current_balance  numeric(39, 0) NOT NULL,
    account_version          bigint NOT NULL,
    created_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX entries_account_idx ON entries (account_id, id);

CREATE SEQUENCE transfer_ids;

-- Move `amount` between two accounts whose rows the caller has locked.
CREATE FUNCTION apply_transfer(p_id bigint, p_from bigint, p_to bigint, p_amount numeric) RETURNS void
LANGUAGE plpgsql SET search_path = pgledger_bench AS $$
DECLARE
    v_prev numeric; v_cur numeric; v_ver bigint; v_allow boolean;
BEGIN
    INSERT INTO transfers (id, from_account, to_account, amount) VALUES (p_id, p_from, p_to, p_amount);
    UPDATE accounts SET balance = balance - p_amount, version = version + 1 WHERE id = p_from
        RETURNING balance + p_amount, balance, version, allow_negative INTO v_prev, v_cur, v_ver, v_allow;
    IF NOT v_allow AND v_cur < 0 THEN
        RAISE EXCEPTION 'account % would go negative', p_from;
    END IF;
    INSERT INTO entries (account_id, transfer_id, amount, account_previous_balance, account_current_balance, account_version)
        VALUES (p_from, p_id, -p_amount, v_prev, v_cur, v_ver);
    UPDATE accounts SET balance = balance + p_amount, version = version + 1 WHERE id = p_to
        RETURNING balance - p_amount, balance, version INTO v_prev, v_cur, v_ver;
    INSERT INTO entries (account_id, transfer_id, amount, account_previous_balance, account_current_balance, account_version)
        VALUES (p_to, p_id, p_amount, v_prev, v_cur, v_ver);
END $$;

-- One transfer per transaction, as pgledger does.
CREATE FUNCTION create_transfer(p_id bigint, p_from bigint, p_to bigint, p_amount numeric) RETURNS void
LANGUAGE plpgsql SET search_path = pgledger_bench AS $$
BEGIN
    PERFORM 1 FROM accounts WHERE id IN (p_from, p_to) ORDER BY id FOR UPDATE;
    PERFORM apply_transfer(p_id, p_from, p_to, p_amount);
END $$;

-- A batch of random transfers in one transaction (PostgreSQL's best case: one commit for many):
-- every account the batch touches is locked first, in sorted order.
CREATE FUNCTION create_random_transfers(p_count int, p_accounts bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pgledger_bench AS $$
DECLARE
    v_from bigint[]; v_to bigint[]; v_amount numeric[]; i int;
BEGIN
    SELECT array_agg(f), array_agg(1 + (f + d) % p_accounts), array_agg(a)
      INTO v_from, v_to, v_amount
      FROM (SELECT 1 + floor(random() * p_accounts)::bigint AS f,
                   floor(random() * (p_accounts - 1))::bigint AS d,
                   1 + floor(random() * 1000)::numeric AS a
              FROM generate_series(1, p_count)) g;
    PERFORM 1 FROM accounts WHERE id = ANY (v_from || v_to) ORDER BY id FOR UPDATE;
    FOR i IN 1 .. p_count LOOP
        PERFORM apply_transfer(nextval('transfer_ids'), v_from[i], v_to[i], v_amount[i]);
    END LOOP;
END $$;
