export { createOutboxRelay, type OutboxRelayDeps } from './outbox-relay.js';
export { publishWithRetry } from './publish.js';
