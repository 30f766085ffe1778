"""Customers, appliances, work orders and their state machine, users and the audit log."""
