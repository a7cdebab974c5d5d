"""Items and the inventory that holds them."""

from __future__ import annotations

from dataclasses import dataclass, field


class OutOfStock(Exception):
    """Raised when an order asks for more units than the inventory holds."""


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    unit_price: float  # in euros


@dataclass
class Inventory:
    items: dict[str, Item] = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)

    def add(self, item: Item, quantity: int) -> None:
        if quantity < 0:
            raise ValueError("quantity must be >= 0")
        self.items[item.sku] = item
        self.stock[item.sku] = self.stock.get(item.sku, 0) + quantity

    def remove(self, sku: str, quantity: int) -> Item:
        available = self.stock.get(sku, 0)
        if quantity > available:
            raise OutOfStock(f"{sku}: asked {quantity}, have {available}")
        self.stock[sku] = available - quantity
        return self.items[sku]

    def value(self) -> float:
        """Total value of the stock at unit prices."""
        return sum(self.items[sku].unit_price * n for sku, n in self.stock.items())
