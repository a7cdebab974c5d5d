"""The model's context window: discovered once (`discover.py`), every request fitted
into it (`fit.py`), so nothing is truncated silently."""
