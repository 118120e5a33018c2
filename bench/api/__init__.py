"""The API benchmark: the service against the old design and PostGraphile (`make bench`)."""
