#!/usr/bin/env python3
"""Drives the legacy Python pricing module over a JSON Lines file, the way a
month-end job built on it would: read each invoice, call
`calculate_invoice_total`, write the total. `scripts/bench invoice` times it
beside `ledgerly` on the same file.

The legacy module works on floats, so prices (decimal strings or numbers in
the file) are handed to it as floats, as its callers did.

Usage: legacy_peer.py [--legacy DIR] FILE
"""
import argparse
import json
import sys
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file")
    parser.add_argument("--legacy", default=str(Path(__file__).resolve().parents[2] / "shared" / "legacy"),
                        help="directory of the legacy pricing.py")
    args = parser.parse_args()
    sys.path.insert(0, args.legacy)
    from pricing import calculate_invoice_total  # noqa: E402 (the path is known only now)

    out = sys.stdout
    write = out.write
    with open(args.file, encoding="utf-8") as invoices:
        for line in invoices:
            if not line.strip():
                continue
            invoice = json.loads(line)
            items = [{"price": float(item["price"]), "quantity": item["quantity"]}
                     for item in invoice["line_items"]]
            total = calculate_invoice_total(
                items,
                invoice.get("tier", "none"),
                invoice.get("loyalty_member", False),
                invoice.get("days_overdue", 0),
            )
            write(json.dumps({"id": invoice.get("id"), "total": f"{total:.2f}"}))
            write("\n")


if __name__ == "__main__":
    main()
