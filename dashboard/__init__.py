"""The live dashboard: a page of charts and tables over the warehouse, every figure from a named query."""
