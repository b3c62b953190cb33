"""The live stream (`WS /v1/stream`): a hub that numbers and fans out messages, the producers
that feed it, the session watch that ends streams with their sessions, and the route."""
