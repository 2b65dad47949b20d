"""Notices: the sweep (stages → outbox), templates, rendering, channels and delivery."""
