"""Wording of dates, numbers and explanations in French and English (pure)."""
