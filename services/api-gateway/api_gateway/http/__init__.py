"""HTTP/JSON transport of the api-gateway."""
