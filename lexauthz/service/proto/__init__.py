"""The ext_authz messages: ``ext_authz.proto`` and the ``ext_authz_pb2.py`` grpcio-tools generated from it."""
