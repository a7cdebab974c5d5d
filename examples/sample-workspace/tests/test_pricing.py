import pytest
from inventory import Inventory, Item, OutOfStock, order_total
from inventory.pricing import line_price


def test_small_order_has_no_discount() -> None:
    assert line_price(2.0, 3) == 6.0


@pytest.mark.xfail(reason="the demo's planted bug: `>` should be `>=`", strict=True)
def test_bulk_discount_applies_from_the_threshold() -> None:
    assert line_price(1.0, 10) == 8.5


def test_order_total_includes_tax_and_takes_stock() -> None:
    inv = Inventory()
    inv.add(Item("PAD", "Notepad", 3.00), 5)
    assert order_total(inv, {"PAD": 2}) == 7.2
    assert inv.stock["PAD"] == 3


def test_out_of_stock() -> None:
    inv = Inventory()
    inv.add(Item("PAD", "Notepad", 3.00), 1)
    with pytest.raises(OutOfStock):
        order_total(inv, {"PAD": 2})
