"""GitHub Actions connector: REST client (``client``), payload mapping (``mapping``), webhook
verification and parsing (``webhooks``), authentication (``auth``)."""
