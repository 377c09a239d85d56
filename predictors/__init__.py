"""Learned performance predictors (GENNAPE-style encoder, zero-cost proxies)."""
