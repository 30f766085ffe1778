"""Business rules of the orders domain, split by use case."""
