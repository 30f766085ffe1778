"""Every Redis key the orders package writes, in one place."""

LOGIN_FAILURES = "callcenter:orders:login-failures:{username}"
LOGIN_FAILURES_FROM = "callcenter:orders:login-failures-from:{address}"
