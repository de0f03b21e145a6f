"""Live order updates over WebSocket: the outbox written with each change, the hub that tails
it in every API process, and the `/api/ws` route."""
