"""api-gateway: the operators' HTTP and gRPC API over one service layer."""
