"""The gRPC transport (iot.v1.SensorGateway, proto/iot/v1/gateway.proto) over the service layer.

Named `rpc` rather than `grpc` so that it never shadows the grpc library.
"""

from api_gateway.rpc.server import GrpcServer, start_grpc

__all__ = ["GrpcServer", "start_grpc"]
