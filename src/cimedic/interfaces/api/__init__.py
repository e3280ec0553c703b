"""The HTTP interface (FastAPI): webhook endpoints and the REST API over the services."""
