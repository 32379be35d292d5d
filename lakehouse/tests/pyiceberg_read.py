"""Read Aurum's lakehouse with pyiceberg (another Iceberg implementation) and print what it sees.

Usage: python pyiceberg_read.py CATALOG_DB WAREHOUSE_DIR
Prints JSON: for every table of the namespace the row count and the journal position of the
current snapshot (if it has one); for postings the exact sum of amounts per asset and side (Python
Decimal, normalised).
"""

import json
import sys
from decimal import Decimal

from pyiceberg.catalog import load_catalog


def main() -> None:
    db, warehouse = sys.argv[1], sys.argv[2]
    # The same catalog name as Aurum's: it is the catalog_name column of the shared SQLite file.
    catalog = load_catalog("aurum", **{"type": "sql", "uri": f"sqlite:///{db}", "warehouse": f"file://{warehouse}"})
    out = {}
    for ident in catalog.list_tables("aurum"):
        name = ident[-1]
        table = catalog.load_table(f"aurum.{name}")
        data = table.scan().to_arrow()
        snapshot = table.current_snapshot()
        try:
            next_seq = snapshot.summary["aurum.next_seq"] if snapshot is not None else None
        except KeyError:
            next_seq = None
        entry = {
            "rows": data.num_rows,
            "next_seq": next_seq,
            "partition_fields": [f.name for f in table.spec().fields],
        }
        if name == "postings":
            sums = {}
            for asset, side, amount in zip(data["asset"].to_pylist(), data["side"].to_pylist(), data["amount"].to_pylist()):
                key = f"{asset}/{side}"
                sums[key] = sums.get(key, Decimal(0)) + amount
            entry["sums"] = {k: format(v.normalize(), "f") for k, v in sorted(sums.items())}
        out[name] = entry
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
