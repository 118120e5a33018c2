"""Strawberry types only, one module per GraphQL type; schema.py assembles them."""
