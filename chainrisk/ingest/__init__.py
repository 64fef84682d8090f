"""Ingestion: a JSON-RPC node client, node ingestion, and the file formats with their staging."""
