"""The write side: one module per mutation, each its checks and its one transaction."""
