"""A tiny stock-keeping library: items, an inventory, and order pricing."""

from .models import Inventory, Item, OutOfStock
from .pricing import BULK_DISCOUNT, BULK_THRESHOLD, TAX_RATE, order_total

__all__ = [
    "BULK_DISCOUNT",
    "BULK_THRESHOLD",
    "TAX_RATE",
    "Inventory",
    "Item",
    "OutOfStock",
    "order_total",
]
