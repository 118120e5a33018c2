"""The price ingestion worker (`python app.py ingest`): Polymarket's feed to PostgreSQL.

feed.py parses frames into ticks, coalescer.py keeps the latest price per token and assembles
markets, subscriptions.py decides which tokens to follow, connection.py holds the WebSocket,
flush.py writes through writes/prices.py, worker.py runs them; see docs/ingestion.md.
"""
