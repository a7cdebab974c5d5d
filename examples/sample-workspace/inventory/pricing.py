"""Pricing rules for an order: bulk discount, then tax."""

from __future__ import annotations

from .models import Inventory

BULK_THRESHOLD = 10  # orders of at least 10 units get the bulk discount
BULK_DISCOUNT = 0.15  # 15% off
TAX_RATE = 0.20


def line_price(unit_price: float, quantity: int) -> float:
    """Price of one order line before tax, with the bulk discount."""
    price = unit_price * quantity
    # Bug on purpose (for the demo): the rule says "at least 10", this says "more than 10".
    if quantity > BULK_THRESHOLD:
        price *= 1 - BULK_DISCOUNT
    return round(price, 2)


def order_total(inventory: Inventory, order: dict[str, int]) -> float:
    """Total to pay for `order` (sku -> quantity), taking the units out of stock."""
    subtotal = 0.0
    for sku, quantity in order.items():
        item = inventory.remove(sku, quantity)
        subtotal += line_price(item.unit_price, quantity)
    return round(subtotal * (1 + TAX_RATE), 2)
