"""Resolvers, one module per parent type; each function is named after its field."""
