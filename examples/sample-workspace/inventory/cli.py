"""`python -m inventory.cli`: price a sample order."""

from __future__ import annotations

import sys

from .models import Inventory, Item
from .pricing import order_total


def main() -> None:
    inv = Inventory()
    inv.add(Item("PEN", "Ballpoint pen", 1.50), 100)
    inv.add(Item("PAD", "Notepad", 3.00), 20)
    total = order_total(inv, {"PEN": 10, "PAD": 2})
    sys.stdout.write(f"total: {total:.2f} EUR\n")


if __name__ == "__main__":
    main()
