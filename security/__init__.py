"""orb.security: TLS and mutual TLS, certificates, peer identity and authorization."""
