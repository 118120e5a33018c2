"""Redis as the shared cache behind the loaders: keys, the store, read-through and invalidation."""
